// OPC 40100 methods: recipe list, a single job and its result by id, an argument error, a missing result.
import { DataType } from "node-opcua-client";
import { connect, close, nsIndex, run, sleep, MV_NS } from "./lib.mjs";

await run(async (opts) => {
  const conn = await connect(opts);
  try {
    const { session } = conn;
    const mv = await nsIndex(session, MV_NS);
    const vs = `ns=${mv};s=VisionSystem`;
    const call = async (object, method, args) => {
      const r = await session.call({ objectId: `${vs}.${object}`, methodId: `${vs}.${object}.${method}`,
        inputArguments: args.map(([t, v]) => ({ dataType: t, value: v })) });
      return { status: r.statusCode.name, out: (r.outputArguments || []).map((a) => a.value) };
    };
    const S = DataType.String;
    const recipes = await call("RecipeManagement", "GetRecipeListFiltered", [[S, "*"], [DataType.UInt32, 0]]);
    const job = await call("VisionStateMachine.AutomaticModeStateMachine", "StartSingleJob",
      [[S, "M-1"], [S, "NODE-JOB-1"], [S, ""], [S, ""]]);
    let list;
    for (let i = 0; i < 500; i++) {
      list = await call("ResultManagement", "GetResultListFiltered",
        [[S, "NODE-JOB-1"], [S, ""], [DataType.DateTime, new Date(0)], [DataType.UInt32, 5]]);
      if (list.out[0] && list.out[0].length) break;
      await sleep(10);
    }
    const id = list.out[0][0];
    const byId = await call("ResultManagement", "GetResultById", [[S, id], [DataType.Int32, 0]]);
    const missing = await call("ResultManagement", "GetResultById", [[S, "999999"], [DataType.Int32, 0]]);
    const tooFew = await call("VisionStateMachine.AutomaticModeStateMachine", "StartSingleJob", [[S, "M-2"]]);
    const prepare = await call("RecipeManagement", "PrepareRecipe", [[S, "lenient"]]);
    return {
      recipes: recipes.out[0], prepared: recipes.out[2], job, resultIds: list.out[0],
      result: JSON.parse(byId.out[0]), resultError: byId.out[1], missing: missing.out, tooFew: tooFew.status,
      prepare: prepare.status,
    };
  } finally {
    await close(conn);
  }
});
