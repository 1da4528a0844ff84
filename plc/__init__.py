"""The PLC and MES link over OPC UA (issue 3): the embedded OPC 40100-style server with the flat Trigger/Ack
handshake, the client mode writing into a PLC's own server, security, and the PLC simulator. The station
runtime reaches it only through the ``inspect_app.links`` and ``inspect_app.commands`` entry points."""
