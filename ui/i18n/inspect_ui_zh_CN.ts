<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN" sourcelanguage="en">
    <context>
    <name>AuditView</name>
    <message>
        <location filename="../audit_view.py" line="24" />
        <source>Time</source>
        <translation>时间</translation>
    </message>
    <message>
        <location filename="../audit_view.py" line="25" />
        <source>Who</source>
        <translation>人员</translation>
    </message>
    <message>
        <location filename="../audit_view.py" line="26" />
        <source>Role</source>
        <translation>角色</translation>
    </message>
    <message>
        <location filename="../audit_view.py" line="27" />
        <source>Action</source>
        <translation>操作</translation>
    </message>
    <message>
        <location filename="../audit_view.py" line="28" />
        <source>Target</source>
        <translation>对象</translation>
    </message>
    <message>
        <location filename="../audit_view.py" line="29" />
        <source>Old</source>
        <translation>原值</translation>
    </message>
    <message>
        <location filename="../audit_view.py" line="30" />
        <source>New</source>
        <translation>新值</translation>
    </message>
    <message>
        <location filename="../audit_view.py" line="74" />
        <source>Audit trail</source>
        <translation>审计记录</translation>
    </message>
    <message>
        <location filename="../audit_view.py" line="76" />
        <source>Refresh</source>
        <translation>刷新</translation>
    </message>
    <message>
        <location filename="../audit_view.py" line="77" />
        <source>Close</source>
        <translation>关闭</translation>
    </message>
</context><context>
    <name>Charts</name>
    <message>
        <location filename="../charts.py" line="121" />
        <source>no parts yet</source>
        <translation>尚无工件</translation>
    </message>
    <message>
        <location filename="../charts.py" line="143" />
        <source>Cycle time (ms)</source>
        <translation>节拍时间（毫秒）</translation>
    </message>
    <message>
        <location filename="../charts.py" line="148" />
        <source>last {0}: mean {1:.0f} · p95 {2:.0f}</source>
        <translation>最近 {0} 件：平均 {1:.0f} · P95 {2:.0f}</translation>
    </message>
    <message>
        <location filename="../charts.py" line="195" />
        <source>no defects yet</source>
        <translation>尚无缺陷</translation>
    </message>
    <message>
        <location filename="../charts.py" line="230" />
        <source>Failed parts by class</source>
        <translation>各类缺陷不合格件数</translation>
    </message>
    <message>
        <source>Cycle time (ms), last {0} parts</source>
        <translation type="vanished">节拍时间（毫秒），最近 {0} 件</translation>
    </message>
    <message>
        <source>mean {0:.0f} · p95 {1:.0f}</source>
        <translation type="vanished">平均 {0:.0f} · P95 {1:.0f}</translation>
    </message>
    <message>
        <source>since the last counter reset</source>
        <translation type="vanished">自上次计数清零以来</translation>
    </message>
</context><context>
    <name>Counters</name>
    <message>
        <location filename="../counters.py" line="16" />
        <source>Total</source>
        <translation>总数</translation>
    </message>
    <message>
        <location filename="../counters.py" line="17" />
        <source>Pass</source>
        <translation>合格</translation>
    </message>
    <message>
        <location filename="../counters.py" line="18" />
        <source>Fail</source>
        <translation>不合格</translation>
    </message>
    <message>
        <location filename="../counters.py" line="19" />
        <source>Not inspected</source>
        <translation>未检测</translation>
    </message>
    <message>
        <location filename="../counters.py" line="20" />
        <source>Yield</source>
        <translation>良率</translation>
    </message>
    <message>
        <location filename="../counters.py" line="71" />
        <source>Reset…</source>
        <translation>清零…</translation>
    </message>
    <message>
        <location filename="../counters.py" line="72" />
        <source>Reset counters…</source>
        <translation>计数清零…</translation>
    </message>
</context><context>
    <name>Gate</name>
    <message>
        <location filename="../window_actions.py" line="301" />
        <source>Confirmed defects: {0} of {1} reviewed defects would PASS (inspections {2})</source>
        <translation>已确认缺陷：{1} 个已复核缺陷中有 {0} 个会被判为合格（检测记录 {2}）</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="303" />
        <source>False rejects: {0} of {1} reviewed false rejects PASS ({2:.0%}, needed {3:.0%})</source>
        <translation>误判：{1} 个已复核误判中有 {0} 个判为合格（{2:.0%}，需要 {3:.0%}）</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="305" />
        <source>Agreement: {0} of {1} parts agree with the live verdict ({2:.1%}, needed {3:.0%})</source>
        <translation>一致性：{1} 个零件中有 {0} 个与在线判定一致（{2:.1%}，需要 {3:.0%}）</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="307" />
        <source>; at least {0} parts needed</source>
        <translation>；至少需要 {0} 个零件</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="308" />
        <source>Agreement: no replayed or shadowed parts (at least {0} needed)</source>
        <translation>一致性：没有回放或影子模型判定过的零件（至少需要 {0} 个）</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="309" />
        <source>Test {0}: {1:.4f} against the live model's {2:.4f} (at most {3} lower)</source>
        <translation>测试集 {0}：{1:.4f}，在线模型为 {2:.4f}（最多可低 {3}）</translation>
    </message>
</context><context>
    <name>LiveView</name>
    <message>
        <location filename="../live_view.py" line="76" />
        <source>Waiting for the first part…</source>
        <translation>等待第一个工件…</translation>
    </message>
    <message>
        <location filename="../live_view.py" line="78" />
        <source>No image ({0})</source>
        <translation>无图像（{0}）</translation>
    </message>
    <message>
        <location filename="../live_view.py" line="80" />
        <source>No image</source>
        <translation>无图像</translation>
    </message>
</context><context>
    <name>LoginDialog</name>
    <message>
        <location filename="../login_dialog.py" line="13" />
        <source>Engineer mode</source>
        <translation>工程师模式</translation>
    </message>
    <message>
        <location filename="../login_dialog.py" line="24" />
        <source>Your name</source>
        <translation>姓名</translation>
    </message>
    <message>
        <location filename="../login_dialog.py" line="25" />
        <source>Password</source>
        <translation>密码</translation>
    </message>
</context><context>
    <name>MainWindow</name>
    <message>
        <location filename="../main_window.py" line="222" />
        <source>Inspection station {0}</source>
        <translation>检测工位 {0}</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="224" />
        <source>Start</source>
        <translation>启动</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="225" />
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="226" />
        <source>Trigger one part</source>
        <translation>单次触发</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="227" />
        <source>Acknowledge error</source>
        <translation>确认故障</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="228" />
        <source>Recipe:</source>
        <translation>配方：</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="230" />
        <source>Engineer: {0}</source>
        <translation>工程师：{0}</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="231" />
        <source>Operator</source>
        <translation>操作员</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="233" />
        <source>Leave engineer mode</source>
        <translation>退出工程师模式</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="234" />
        <source>Engineer mode…</source>
        <translation>工程师模式…</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="235" />
        <source>Recipes…</source>
        <translation>配方…</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="236" />
        <source>Audit…</source>
        <translation>审计…</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="237" />
        <source>Last rejects</source>
        <translation>最近不合格品</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="238" />
        <source>Recent results</source>
        <translation>最近结果</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="304" />
        <source>STARTING</source>
        <translation>启动中</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="306" />
        <source>STOPPING</source>
        <translation>停止中</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="308" />
        <source>NOT RUNNING</source>
        <translation>未运行</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="314" />
        <location filename="../main_window.py" line="310" />
        <source>STOPPED</source>
        <translation>已停止</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="312" />
        <source>ERROR {0}</source>
        <translation>故障 {0}</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="332" />
        <source>Recipe {0} saved to {1}.</source>
        <translation>配方 {0} 已保存到 {1}。</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="335" />
        <source>Recipe {0} is applied but was NOT saved: {1}</source>
        <translation>配方 {0} 已生效，但未能保存：{1}</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="395" />
        <source>Station started.</source>
        <translation>工位已启动。</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="404" />
        <source>Cannot start: {0}</source>
        <translation>无法启动：{0}</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="417" />
        <source>Station stopped; every queued result was saved.</source>
        <translation>工位已停止；所有排队结果均已保存。</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="49" />
        <source>Starting: loading and verifying the models…</source>
        <translation>启动中：正在加载并校验模型…</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="55" />
        <source>Stopping: saving every queued result…</source>
        <translation>停止中：正在保存所有排队结果…</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="66" />
        <source>Triggered part {0}</source>
        <translation>已触发工件 {0}</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="73" />
        <source>Error acknowledged.</source>
        <translation>故障已确认。</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="75" />
        <source>The cause of the error is still there: not reset.</source>
        <translation>故障原因仍然存在：未复位。</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="84" />
        <source>Reset counters</source>
        <translation>计数清零</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="85" />
        <source>Start a new shift count? The reset is recorded in the audit trail.</source>
        <translation>开始新的班次计数？清零操作将记入审计记录。</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="97" />
        <source>Start the station first: it records the audit trail.</source>
        <translation>请先启动工位：审计记录由工位写入。</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="107" />
        <source>Engineer mode: {0}</source>
        <translation>工程师模式：{0}</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="140" />
        <source>Switching recipes needs engineer mode.</source>
        <translation>切换配方需要工程师模式。</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="145" />
        <source>Recipe {0} from the next part on.</source>
        <translation>从下一个工件起使用配方 {0}。</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="219" />
        <source>the station is stopped</source>
        <translation>工位已停止</translation>
    </message>
</context><context>
    <name>Reasons</name>
    <message>
        <location filename="../reason_text.py" line="17" />
        <source>Camera error</source>
        <translation>相机错误</translation>
    </message>
    <message>
        <location filename="../reason_text.py" line="18" />
        <source>Camera did not open in time</source>
        <translation>相机未能及时打开</translation>
    </message>
    <message>
        <location filename="../reason_text.py" line="19" />
        <source>No picture from the camera in time</source>
        <translation>未及时收到相机图像</translation>
    </message>
    <message>
        <location filename="../reason_text.py" line="20" />
        <source>Image unreadable</source>
        <translation>图像无法读取</translation>
    </message>
    <message>
        <location filename="../reason_text.py" line="21" />
        <source>Model error</source>
        <translation>模型错误</translation>
    </message>
    <message>
        <location filename="../reason_text.py" line="22" />
        <source>Inspection stalled</source>
        <translation>检测停滞</translation>
    </message>
    <message>
        <location filename="../reason_text.py" line="23" />
        <source>Line faster than the station: part skipped</source>
        <translation>产线快于工位：已跳过该零件</translation>
    </message>
    <message>
        <location filename="../reason_text.py" line="24" />
        <source>Trigger missed</source>
        <translation>触发丢失</translation>
    </message>
    <message>
        <location filename="../reason_text.py" line="25" />
        <source>Database error</source>
        <translation>数据库错误</translation>
    </message>
    <message>
        <location filename="../reason_text.py" line="26" />
        <source>Station error</source>
        <translation>工位错误</translation>
    </message>
    <message>
        <location filename="../reason_text.py" line="28" />
        <source>Internal error</source>
        <translation>内部错误</translation>
    </message>
    <message>
        <location filename="../reason_text.py" line="29" />
        <source>A worker thread stopped: restart the station</source>
        <translation>工作线程已停止：请重启工位</translation>
    </message>
    <message>
        <location filename="../reason_text.py" line="30" />
        <source>Disk full</source>
        <translation>磁盘已满</translation>
    </message>
    <message>
        <location filename="../reason_text.py" line="31" />
        <source>Region of interest outside the image</source>
        <translation>检测区域超出图像</translation>
    </message>
    <message>
        <location filename="../reason_text.py" line="32" />
        <source>Picture too old for this trigger</source>
        <translation>图像过旧，不属于本次触发</translation>
    </message>
    <message>
        <location filename="../reason_text.py" line="33" />
        <source>Image too large</source>
        <translation>图像过大</translation>
    </message>
    <message>
        <location filename="../reason_text.py" line="51" />
        <source>{0} at ({1:.0f},{2:.0f})-({3:.0f},{4:.0f}), confidence {5:.2f}</source>
        <translation>{0} 位于 ({1:.0f},{2:.0f})-({3:.0f},{4:.0f})，置信度 {5:.2f}</translation>
    </message>
    <message>
        <location filename="../reason_text.py" line="55" />
        <source>; {0} found, {1} allowed</source>
        <translation>；发现 {0} 个，允许 {1} 个</translation>
    </message>
</context><context>
    <name>RecipeEditor</name>
    <message>
        <location filename="../recipe_editor.py" line="42" />
        <source>Class</source>
        <translation>类别</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="317" />
        <location filename="../recipe_editor.py" line="43" />
        <source>Min confidence</source>
        <translation>最低置信度</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="318" />
        <location filename="../recipe_editor.py" line="44" />
        <source>Min area px²</source>
        <translation>最小面积 px²</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="319" />
        <location filename="../recipe_editor.py" line="45" />
        <source>Max count</source>
        <translation>允许数量</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="46" />
        <source>Ignore</source>
        <translation>忽略</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="49" />
        <source>Whole image</source>
        <translation>整幅图像</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="50" />
        <source>Rectangle</source>
        <translation>矩形</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="51" />
        <source>Polygon</source>
        <translation>多边形</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="298" />
        <source>Loading the model release…</source>
        <translation>正在加载模型版本…</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="312" />
        <source>Recipes (engineer)</source>
        <translation>配方（工程师）</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="314" />
        <source>Recipe</source>
        <translation>配方</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="315" />
        <source>Description</source>
        <translation>说明</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="316" />
        <source>Model release</source>
        <translation>模型版本</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="320" />
        <source>Region</source>
        <translation>区域</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="321" />
        <source>x1, y1, x2, y2</source>
        <translation>x1, y1, x2, y2</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="322" />
        <source>Points x,y; …</source>
        <translation>顶点 x,y; …</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="326" />
        <source>Defaults for every class</source>
        <translation>所有类别的默认值</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="327" />
        <source>Per class (empty = default)</source>
        <translation>按类别设置（留空 = 默认值）</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="328" />
        <source>Region of interest (box centres inside count)</source>
        <translation>检测区域（框中心在区域内才计数）</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="330" />
        <source>Camera settings (GenICam cameras; empty = unchanged)</source>
        <translation>相机设置（GenICam 相机；留空 = 不变）</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="332" />
        <source>Exposure µs</source>
        <translation>曝光 µs</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="333" />
        <source>Gain</source>
        <translation>增益</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="334" />
        <source>Other features (Name=value; …)</source>
        <translation>其他参数（名称=值; …）</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="342" />
        <source>Switch model</source>
        <translation>切换模型</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="343" />
        <source>Apply</source>
        <translation>应用</translation>
    </message>
    <message>
        <location filename="../recipe_editor.py" line="344" />
        <source>Close</source>
        <translation>关闭</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="181" />
        <source>Applied: recipe {0} from the next part on.</source>
        <translation>已应用：从下一个工件起使用配方 {0}。</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="183" />
        <source>Not saved to a file: this station has no config file (demo), so the change lasts until it stops.</source>
        <translation>未保存到文件：此工位没有配置文件（演示模式），更改在停止前有效。</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="186" />
        <source>Saving it to {0}…</source>
        <translation>正在保存到 {0}…</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="267" />
        <source>Model switched.</source>
        <translation>模型已切换。</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="294" />
        <source>Not switched: the promotion gate refused {0}.</source>
        <translation>未切换：推广门禁拒绝了 {0}。</translation>
    </message>
</context><context>
    <name>RejectView</name>
    <message>
        <location filename="../reject_view.py" line="39" />
        <source>Confirmed defect</source>
        <translation>确认缺陷</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="40" />
        <source>False reject</source>
        <translation>误判（实为合格）</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="41" />
        <source>Missed defect</source>
        <translation>漏检缺陷</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="190" />
        <source>Image {0}</source>
        <translation>图像{0}</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="216" />
        <source>Review result</source>
        <translation>复核结果</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="219" />
        <source>Class</source>
        <translation>类别</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="220" />
        <source>Note</source>
        <translation>备注</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="221" />
        <source>Reasons</source>
        <translation>判定原因</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="222" />
        <source>Reviews</source>
        <translation>复核记录</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="223" />
        <source>Close</source>
        <translation>关闭</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="229" />
        <source>{0}
part {1}</source>
        <translation>{0}
工件 {1}</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="236" />
        <source>Time: {0}</source>
        <translation>时间：{0}</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="237" />
        <source>Recipe: {0}</source>
        <translation>配方：{0}</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="238" />
        <source>Model: {0}</source>
        <translation>模型：{0}</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="239" />
        <source>Cycle: {0} ms</source>
        <translation>节拍：{0} 毫秒</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="240" />
        <source>Record #{0}</source>
        <translation>记录 #{0}</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="246" />
        <source>(no reasons: the part passed)</source>
        <translation>（无原因：工件合格）</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="252" />
        <source>Box drawn: choose its class, then press “Missed defect”.</source>
        <translation>已画框：请选择类别，然后点击“漏检缺陷”。</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="254" />
        <source>Selected: {0}. The buttons judge this detection only.</source>
        <translation>已选中：{0}。按钮仅对该检测框判定。</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="257" />
        <source>Click a box to judge one detection (else the whole part); drag on the image to draw a defect the model missed.</source>
        <translation>点击某个框可单独判定该检测（否则判定整个工件）；在图像上拖动可画出模型漏检的缺陷。</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="275" />
        <source>Saving…</source>
        <translation>正在保存…</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="280" />
        <source>Saved.</source>
        <translation>已保存。</translation>
    </message>
    <message>
        <location filename="../reject_view.py" line="285" />
        <source>Not saved: {0}</source>
        <translation>未保存：{0}</translation>
    </message>
</context><context>
    <name>ReplayPreview</name>
    <message>
        <location filename="../replay_preview.py" line="190" />
        <source>Replaying the last parts… {0} of {1}</source>
        <translation>正在重放最近的零件… {0} / {1}</translation>
    </message>
    <message>
        <location filename="../replay_preview.py" line="197" />
        <source>Replaying the last parts…</source>
        <translation>正在重放最近的零件…</translation>
    </message>
    <message>
        <location filename="../replay_preview.py" line="199" />
        <source>No preview: {0}</source>
        <translation>无法预览：{0}</translation>
    </message>
    <message>
        <location filename="../replay_preview.py" line="210" />
        <source>What this edit would have decided on the last parts of this recipe, from their stored detections; nothing is applied until you press Apply.</source>
        <translation>按已存储的检测结果，显示此修改对该配方最近零件会作出的判定；按“应用”之前不会生效。</translation>
    </message>
    <message>
        <location filename="../replay_preview.py" line="222" />
        <source>No stored part of this recipe yet: nothing to compare.</source>
        <translation>该配方还没有已存储的零件：无可比较。</translation>
    </message>
    <message>
        <location filename="../replay_preview.py" line="224" />
        <source>On the last {0} parts: {1} flips ({2} PASS→FAIL, {3} FAIL→PASS), {4} false rejects fixed, {5} new escapes.</source>
        <translation>最近 {0} 个零件：{1} 次翻转（{2} 个 合格→不合格，{3} 个 不合格→合格），纠正 {4} 个误判，新增 {5} 个漏检。</translation>
    </message>
    <message>
        <location filename="../replay_preview.py" line="234" />
        <source>Yield {0} % → {1} %.</source>
        <translation>良率 {0} % → {1} %。</translation>
    </message>
    <message>
        <location filename="../replay_preview.py" line="239" />
        <source>{0} parts could not be judged from their stored detections (a threshold below the one that judged them, another model, or no verdict): run inspect-app replay to judge them from their images.</source>
        <translation>{0} 个零件无法仅凭已存储的检测结果判定（阈值低于判定时所用的值、模型不同或没有判定）：请运行 inspect-app replay 用图像重新判定。</translation>
    </message>
</context><context>
    <name>ResultsTable</name>
    <message>
        <location filename="../results_table.py" line="35" />
        <source>Time</source>
        <translation>时间</translation>
    </message>
    <message>
        <location filename="../results_table.py" line="36" />
        <source>Part</source>
        <translation>工件</translation>
    </message>
    <message>
        <location filename="../results_table.py" line="37" />
        <source>Verdict</source>
        <translation>结果</translation>
    </message>
    <message>
        <location filename="../results_table.py" line="38" />
        <source>Cycle ms</source>
        <translation>节拍（毫秒）</translation>
    </message>
    <message>
        <location filename="../results_table.py" line="39" />
        <source>Recipe</source>
        <translation>配方</translation>
    </message>
    <message>
        <location filename="../results_table.py" line="40" />
        <source>Reasons</source>
        <translation>原因</translation>
    </message>
    <message>
        <location filename="../results_table.py" line="200" />
        <source>{0} new — show them</source>
        <translation>{0} 条新结果 — 点击查看</translation>
    </message>
</context><context>
    <name>Roles</name>
    <message>
        <location filename="../roles.py" line="25" />
        <source>No engineer password is configured ([ui] engineer_password_hash).</source>
        <translation>未配置工程师密码（[ui] engineer_password_hash）。</translation>
    </message>
    <message>
        <location filename="../roles.py" line="26" />
        <source>Wrong password.</source>
        <translation>密码错误。</translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="153" />
        <location filename="../roles.py" line="27" />
        <source>This needs engineer mode.</source>
        <translation>此操作需要工程师模式。</translation>
    </message>
</context><context>
    <name>StatusLights</name>
    <message>
        <location filename="../status_lights.py" line="32" />
        <source>Station</source>
        <translation>工位</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="33" />
        <source>Camera</source>
        <translation>相机</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="34" />
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="35" />
        <source>Shadow</source>
        <translation>影子模型</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="36" />
        <source>PLC link</source>
        <translation>PLC 连接</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="37" />
        <source>Database</source>
        <translation>数据库</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="38" />
        <source>Disk</source>
        <translation>磁盘</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="42" />
        <source>Preoperational</source>
        <translation>准备中（Preoperational）</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="43" />
        <source>Ready</source>
        <translation>就绪（Ready）</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="44" />
        <source>ContinuousExecution</source>
        <translation>连续检测（ContinuousExecution）</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="45" />
        <source>Error</source>
        <translation>故障（Error）</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="46" />
        <source>Halted</source>
        <translation>已停止（Halted）</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="92" />
        <source>Preoperational (starting)</source>
        <translation>准备中（Preoperational，启动中）</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="93" />
        <source>Stopping: saving results</source>
        <translation>停止中：正在保存结果</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="94" />
        <source>Start failed: {0}</source>
        <translation>启动失败：{0}</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="102" />
        <source>Error: {0}</source>
        <translation>故障（Error）：{0}</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="104" />
        <source>Operational · {0} · recipe {1}</source>
        <translation>运行中 · {0} · 配方 {1}</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="118" />
        <source>no frames</source>
        <translation>无图像帧</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="130" />
        <source>not loaded</source>
        <translation>未加载</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="133" />
        <source>auto</source>
        <translation>自动</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="142" />
        <source>none configured</source>
        <translation>未配置</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="144" />
        <source>{0} ({1}): not running</source>
        <translation>{0}（{1}）：未运行</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="155" />
        <source>{0} · {1:.1f} MB</source>
        <translation>{0} · {1:.1f} MB</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="157" />
        <source>not open yet</source>
        <translation>尚未打开</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="169" />
        <source>{0:.1f} GB free</source>
        <translation>可用 {0:.1f} GB</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="171" />
        <source>images not saved</source>
        <translation>图像未保存</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="190" />
        <source>{0}: not running: {1}</source>
        <translation>{0}：未运行：{1}</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="192" />
        <source>{0}: loading</source>
        <translation>{0}：加载中</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="194" />
        <source>{0}: no part judged yet, {1} skipped</source>
        <translation>{0}：尚未判定零件，跳过 {1} 个</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="197" />
        <source>{0}: {1:.1f} % agree on {2} parts, {3} skipped</source>
        <translation>{0}：{2} 个零件中 {1:.1f} % 一致，跳过 {3} 个</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="209" />
        <source>per class: {0}</source>
        <translation>各类别：{0}</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="217" />
        <source>server {0}, {1} client(s)</source>
        <translation>服务器 {0}，{1} 个客户端</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="221" />
        <source>connected</source>
        <translation>已连接</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="221" />
        <source>not connected</source>
        <translation>未连接</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="225" />
        <source>fault {0}</source>
        <translation>故障 {0}</translation>
    </message>
    <message>
        <location filename="../status_lights.py" line="229" />
        <source>UNSECURED</source>
        <translation>未加密（不安全）</translation>
    </message>
</context><context>
    <name>VerdictBanner</name>
    <message>
        <location filename="../verdict_banner.py" line="22" />
        <source>PASS</source>
        <translation>合格</translation>
    </message>
    <message>
        <location filename="../verdict_banner.py" line="23" />
        <source>FAIL</source>
        <translation>不合格</translation>
    </message>
    <message>
        <location filename="../verdict_banner.py" line="24" />
        <source>NOT INSPECTED</source>
        <translation>未检测</translation>
    </message>
    <message>
        <location filename="../verdict_banner.py" line="67" />
        <source>WAITING</source>
        <translation>等待中</translation>
    </message>
    <message>
        <location filename="../verdict_banner.py" line="90" />
        <source>Part {0}</source>
        <translation>工件 {0}</translation>
    </message>
    <message>
        <location filename="../verdict_banner.py" line="92" />
        <source>Cycle {0:.0f} ms</source>
        <translation>节拍 {0:.0f} 毫秒</translation>
    </message>
    <message>
        <location filename="../verdict_banner.py" line="95" />
        <source>Last: {0}</source>
        <translation>上一件：{0}</translation>
    </message>
</context></TS>
