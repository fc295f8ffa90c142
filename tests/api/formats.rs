//! Real log formats, read with no configuration: sample lines written from
//! each format's specification or documentation (RFC 5424's and RFC 3164's
//! examples, Apache's and nginx's documented formats, log4j's layouts, the
//! logcat documentation, ...), each with the level and time the test knows
//! it must count as.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::helpers::{App, Dirs, append, logproc, on_every_backend, wait_for};

/// Epoch milliseconds of a UTC date and time, counted day by day (a second
/// implementation, not the SDK's).
fn utc(date: (i64, i64, i64), time: (i64, i64, i64), ms: i64) -> i64 {
    let leap = |year: i64| year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = |year: i64, month: i64| match month {
        2 if leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let (year, month, day) = date;
    let days = (1970..year).map(|y| if leap(y) { 366 } else { 365 }).sum::<i64>()
        + (1..month).map(|m| month_days(year, m)).sum::<i64>()
        + day
        - 1;
    let (hour, minute, second) = time;
    ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1_000 + ms
}

/// The modification time given to every sample file: the year of dates
/// written without one is the one that puts them closest before it.
fn written_by() -> i64 {
    utc((2025, 6, 30), (0, 0, 0), 0)
}

/// One line and what it must count as: service, level, and its time (None:
/// it has none, and counts at the time of reading).
type Expected = (&'static str, &'static str, &'static str, Option<i64>);

/// Sample files, by name, with every line's expected count.
fn samples() -> Vec<(&'static str, Vec<Expected>)> {
    let t = |date, time| Some(utc(date, time, 0));
    let tm = |date, time, ms| Some(utc(date, time, ms));
    vec![
        (
            // Linux auth.log and syslog (RFC 3164's example with its PRI).
            "auth.log",
            vec![
                (
                    "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4",
                    "sshd",
                    "UNKNOWN",
                    t((2025, 6, 14), (15, 16, 1)),
                ),
                (
                    "Jun 14 15:16:02 combo sshd(pam_unix)[19937]: check pass; user unknown",
                    "sshd",
                    "UNKNOWN",
                    t((2025, 6, 14), (15, 16, 2)),
                ),
                (
                    "Jun 15 02:04:59 combo kernel: warning: many lost ticks.",
                    "kernel",
                    "WARN",
                    t((2025, 6, 15), (2, 4, 59)),
                ),
                (
                    "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
                    "su",
                    "FATAL",
                    t((2024, 10, 11), (22, 14, 15)),
                ),
                (
                    "Dec 31 23:59:58 combo cron[42]: error: job failed",
                    "cron",
                    "ERROR",
                    t((2024, 12, 31), (23, 59, 58)),
                ),
            ],
        ),
        (
            // macOS system.log.
            "system.log",
            vec![(
                "Jul  1 09:00:55 calvisitor-10-105-160-95 kernel[0]: IOThunderboltSwitch<0>(0x0)::listenerCallback - Thunderbolt HPD packet for route = 0x0 port = 11 unplug = 0",
                "kernel",
                "UNKNOWN",
                t((2024, 7, 1), (9, 0, 55)),
            )],
        ),
        (
            // RFC 5424 section 6.5, examples 1 to 4.
            "rfc5424.log",
            vec![
                (
                    "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - BOM'su root' failed for lonvick on /dev/pts/8",
                    "su",
                    "FATAL",
                    tm((2003, 10, 11), (22, 14, 15), 3),
                ),
                (
                    "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
                    "myproc",
                    "INFO",
                    t((2003, 8, 24), (12, 14, 15)),
                ),
                (
                    r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] BOMAn application event log entry..."#,
                    "evntslog",
                    "INFO",
                    tm((2003, 10, 11), (22, 14, 15), 3),
                ),
                (
                    r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]"#,
                    "evntslog",
                    "INFO",
                    tm((2003, 10, 11), (22, 14, 15), 3),
                ),
            ],
        ),
        (
            // Apache's Common and Combined Log Formats (nginx's default is
            // the combined one).
            "access.log",
            vec![
                (
                    r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
                    "access",
                    "INFO",
                    t((2000, 10, 10), (20, 55, 36)),
                ),
                (
                    r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#,
                    "access",
                    "INFO",
                    t((2000, 10, 10), (20, 55, 36)),
                ),
                (
                    r#"203.0.113.7 - - [02/Jan/2025:03:04:05 +0000] "GET /missing HTTP/1.1" 404 153 "-" "curl/8.5.0""#,
                    "access",
                    "WARN",
                    t((2025, 1, 2), (3, 4, 5)),
                ),
                (
                    r#"203.0.113.7 - - [02/Jan/2025:03:05:06 +0100] "POST /api/pay HTTP/2.0" 503 0 "-" "Go-http-client/2.0""#,
                    "access",
                    "ERROR",
                    t((2025, 1, 2), (2, 5, 6)),
                ),
            ],
        ),
        (
            // Apache's error log, 2.2 and 2.4 (a name without extension).
            "error_log",
            vec![
                (
                    "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties",
                    "error_log",
                    "INFO",
                    t((2005, 12, 4), (4, 47, 44)),
                ),
                (
                    "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
                    "error_log",
                    "ERROR",
                    t((2005, 12, 4), (4, 47, 44)),
                ),
                (
                    "[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187] File does not exist: /usr/local/apache2/htdocs/favicon.ico",
                    "error_log",
                    "ERROR",
                    tm((2011, 9, 9), (10, 42, 29), 902),
                ),
                (
                    "[Fri Sep 09 10:42:30 2011] [ssl:warn] [pid 35708] AH01909: server certificate does NOT include an ID which matches the server name",
                    "error_log",
                    "WARN",
                    t((2011, 9, 9), (10, 42, 30)),
                ),
            ],
        ),
        (
            "nginx-error.log",
            vec![
                (
                    r#"2011/09/09 10:42:29 [error] 35708#0: *1 open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory), client: 127.0.0.1"#,
                    "nginx-error",
                    "ERROR",
                    t((2011, 9, 9), (10, 42, 29)),
                ),
                (
                    "2025/01/02 03:04:05 [notice] 1#1: start worker processes",
                    "nginx-error",
                    "INFO",
                    t((2025, 1, 2), (3, 4, 5)),
                ),
                (
                    r#"2025/01/02 03:04:06 [warn] 1#1: conflicting server name "example.com" on 0.0.0.0:80, ignored"#,
                    "nginx-error",
                    "WARN",
                    t((2025, 1, 2), (3, 4, 6)),
                ),
            ],
        ),
        (
            // log4j's `%d %p [%t] %c: %m%n`, with a stack trace.
            "hadoop.log",
            vec![
                (
                    "2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster for application appattempt_1445144423722_0020_000001",
                    "hadoop",
                    "INFO",
                    tm((2015, 10, 18), (18, 1, 47), 978),
                ),
                (
                    "2015-10-18 18:01:48,963 WARN [main] org.apache.hadoop.util.NativeCodeLoader: Unable to load native-hadoop library",
                    "hadoop",
                    "WARN",
                    tm((2015, 10, 18), (18, 1, 48), 963),
                ),
                (
                    "2015-10-18 18:01:50,353 ERROR [RMCommunicator Allocator] org.apache.hadoop.mapreduce.v2.app.rm.RMContainerAllocator: ERROR IN CONTACTING RM.",
                    "hadoop",
                    "ERROR",
                    tm((2015, 10, 18), (18, 1, 50), 353),
                ),
                (
                    "java.net.ConnectException: Connection refused",
                    "hadoop",
                    "UNKNOWN",
                    None,
                ),
                (
                    "\tat sun.nio.ch.SocketChannelImpl.checkConnect(Native Method)",
                    "hadoop",
                    "UNKNOWN",
                    None,
                ),
                (
                    "2015-10-18 18:01:51,001 FATAL [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Error starting MRAppMaster",
                    "hadoop",
                    "FATAL",
                    tm((2015, 10, 18), (18, 1, 51), 1),
                ),
            ],
        ),
        (
            "zookeeper.log",
            vec![
                (
                    "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200",
                    "zookeeper",
                    "INFO",
                    tm((2015, 7, 29), (17, 41, 44), 747),
                ),
                (
                    "2015-07-29 19:04:12,394 - WARN  [RecvWorker:188978561024:QuorumCnxManager$RecvWorker@765] - Interrupting SendWorker",
                    "zookeeper",
                    "WARN",
                    tm((2015, 7, 29), (19, 4, 12), 394),
                ),
            ],
        ),
        (
            "spark.log",
            vec![
                (
                    "17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered signal handlers for [TERM, HUP, INT]",
                    "spark",
                    "INFO",
                    t((2017, 6, 9), (20, 10, 40)),
                ),
                (
                    "17/06/09 20:11:11 ERROR executor.Executor: Exception in task 0.0 in stage 1.0",
                    "spark",
                    "ERROR",
                    t((2017, 6, 9), (20, 11, 11)),
                ),
            ],
        ),
        (
            "hdfs.log",
            vec![
                (
                    "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating",
                    "hdfs",
                    "INFO",
                    t((2008, 11, 9), (20, 36, 15)),
                ),
                (
                    "081109 203807 222 WARN dfs.DataNode$DataXceiver: 10.251.30.85:50010:Got exception while serving blk_-2918118818249673980 to /10.251.90.64:",
                    "hdfs",
                    "WARN",
                    t((2008, 11, 9), (20, 38, 7)),
                ),
            ],
        ),
        (
            // Python's logging: `asctime - name - levelname - message`, and
            // basicConfig's default.
            "worker.log",
            vec![
                (
                    "2025-01-01 12:00:00,123 - billing.worker - INFO - charge started",
                    "worker",
                    "INFO",
                    tm((2025, 1, 1), (12, 0, 0), 123),
                ),
                (
                    "2025-01-01 12:00:01,500 - billing.worker - ERROR - charge failed",
                    "worker",
                    "ERROR",
                    tm((2025, 1, 1), (12, 0, 1), 500),
                ),
                ("WARNING:root:disk almost full", "worker", "WARN", None),
                ("CRITICAL:billing:giving up", "worker", "FATAL", None),
            ],
        ),
        (
            // klog's header: Lmmdd hh:mm:ss.uuuuuu threadid file:line].
            "kubelet.log",
            vec![
                (
                    "I0102 03:04:05.123456    1234 server.go:42] Listening on :10250",
                    "kubelet",
                    "INFO",
                    tm((2025, 1, 2), (3, 4, 5), 123),
                ),
                (
                    "W0102 03:04:06.000001    1234 reflector.go:324] watch ended",
                    "kubelet",
                    "WARN",
                    t((2025, 1, 2), (3, 4, 6)),
                ),
                (
                    "E1109 10:11:12.000000    1234 kubelet.go:1700] failed to sync pod",
                    "kubelet",
                    "ERROR",
                    t((2024, 11, 9), (10, 11, 12)),
                ),
            ],
        ),
        (
            // logcat's default (threadtime) format.
            "android.log",
            vec![
                (
                    "03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogsopening app wtoken",
                    "android",
                    "DEBUG",
                    tm((2025, 3, 17), (16, 13, 38), 811),
                ),
                (
                    "03-17 16:13:38.819  1702  8671 V PowerManagerService: acquire lock=233570404",
                    "android",
                    "TRACE",
                    tm((2025, 3, 17), (16, 13, 38), 819),
                ),
                (
                    "03-17 16:13:39.002  1702  1702 I ActivityManager: Start proc 1234:com.example/u0a1 for activity",
                    "android",
                    "INFO",
                    tm((2025, 3, 17), (16, 13, 39), 2),
                ),
                (
                    "03-17 16:13:40.100  2227  2227 W System.err: java.io.IOException: timeout",
                    "android",
                    "WARN",
                    tm((2025, 3, 17), (16, 13, 40), 100),
                ),
                (
                    "03-17 16:13:41.000  2227  2227 E AndroidRuntime: FATAL EXCEPTION: main",
                    "android",
                    "ERROR",
                    t((2025, 3, 17), (16, 13, 41)),
                ),
                (
                    "03-17 16:13:41.001  2227  2227 F libc    : Fatal signal 6 (SIGABRT)",
                    "android",
                    "FATAL",
                    tm((2025, 3, 17), (16, 13, 41), 1),
                ),
            ],
        ),
        (
            "CBS.log",
            vec![
                (
                    r"2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack v6.1.7601.23505 with Core: C:\Windows\winsxs\amd64_microsoft-windows-servicingstack\cbscore.dll",
                    "CBS",
                    "INFO",
                    t((2016, 9, 28), (4, 30, 30)),
                ),
                (
                    "2016-09-28 04:30:31, Warning               CBS    Failed to get session package state [HRESULT = 0x800f0805 - CBS_E_INVALID_PACKAGE]",
                    "CBS",
                    "WARN",
                    t((2016, 9, 28), (4, 30, 31)),
                ),
                (
                    "2016-09-28 04:30:31, Error                 CSI    00000001@2016/9/27:20:30:31.455 (F) CMIADAPTER: Inner Error Message",
                    "CBS",
                    "ERROR",
                    t((2016, 9, 28), (4, 30, 31)),
                ),
            ],
        ),
        (
            // The CRI's log format (containerd, CRI-O).
            "containerd.log",
            vec![
                (
                    "2016-10-06T00:17:09.669794202Z stdout F Starting server on :8080",
                    "containerd",
                    "UNKNOWN",
                    tm((2016, 10, 6), (0, 17, 9), 669),
                ),
                (
                    "2016-10-06T00:17:10.113242941Z stderr F ERROR could not reach db",
                    "containerd",
                    "ERROR",
                    tm((2016, 10, 6), (0, 17, 10), 113),
                ),
                (
                    "2016-10-06T00:17:10.113242941Z stderr P panic: partial line",
                    "containerd",
                    "FATAL",
                    tm((2016, 10, 6), (0, 17, 10), 113),
                ),
            ],
        ),
        (
            "svc.log",
            vec![
                (
                    r#"time=2025-01-01T12:00:00Z level=info msg="started" app=api"#,
                    "api",
                    "INFO",
                    t((2025, 1, 1), (12, 0, 0)),
                ),
                (
                    r#"time=2025-01-01T12:00:01Z level=warn msg="slow \"db\"" app=api module=db"#,
                    "api",
                    "WARN",
                    t((2025, 1, 1), (12, 0, 1)),
                ),
                (
                    r#"ts=1735732802 lvl=error msg="request failed" service=api"#,
                    "api",
                    "ERROR",
                    t((2025, 1, 1), (12, 0, 2)),
                ),
            ],
        ),
        (
            // Docker's json-file driver: the level is in the message.
            "abc123-json.log",
            vec![
                (
                    r#"{"log":"2025-01-01 12:00:00 INFO starting\n","stream":"stdout","time":"2025-01-01T12:00:00.000000001Z"}"#,
                    "abc123-json",
                    "INFO",
                    t((2025, 1, 1), (12, 0, 0)),
                ),
                (
                    r#"{"log":"ERROR connection refused\n","stream":"stderr","time":"2025-01-01T12:00:01.5Z"}"#,
                    "abc123-json",
                    "ERROR",
                    tm((2025, 1, 1), (12, 0, 1), 500),
                ),
                (
                    r#"{"log":"plain message\n","stream":"stdout","time":"2025-01-01T12:00:02Z"}"#,
                    "abc123-json",
                    "UNKNOWN",
                    t((2025, 1, 1), (12, 0, 2)),
                ),
            ],
        ),
        (
            // `journalctl -o json`.
            "journal.json",
            vec![
                (
                    r#"{"__REALTIME_TIMESTAMP":"1735732800000000","PRIORITY":"6","SYSLOG_IDENTIFIER":"sshd","_SYSTEMD_UNIT":"ssh.service","MESSAGE":"Accepted publickey for root"}"#,
                    "sshd",
                    "INFO",
                    t((2025, 1, 1), (12, 0, 0)),
                ),
                (
                    r#"{"__REALTIME_TIMESTAMP":"1735732861000000","PRIORITY":"3","SYSLOG_IDENTIFIER":"kernel","MESSAGE":"I/O error"}"#,
                    "kernel",
                    "ERROR",
                    t((2025, 1, 1), (12, 1, 1)),
                ),
            ],
        ),
        (
            // ECS, OpenTelemetry, Bunyan, pino, GELF, Serilog CLEF.
            "dialects.jsonl",
            vec![
                (
                    r#"{"@timestamp":"2025-01-01T12:00:00.000Z","log.level":"warn","message":"low disk","service.name":"shop","log.logger":"disk"}"#,
                    "shop",
                    "WARN",
                    t((2025, 1, 1), (12, 0, 0)),
                ),
                (
                    r#"{"timeUnixNano":"1735732860000000000","severityNumber":17,"severityText":"ERROR","body":"boom"}"#,
                    "dialects",
                    "ERROR",
                    t((2025, 1, 1), (12, 1, 0)),
                ),
                (
                    r#"{"timeUnixNano":"1735732861000000000","severityNumber":13,"body":"no text"}"#,
                    "dialects",
                    "WARN",
                    t((2025, 1, 1), (12, 1, 1)),
                ),
                (
                    r#"{"name":"myapp","hostname":"h","pid":1,"level":50,"msg":"failed","time":"2025-01-01T12:02:00.000Z","v":0}"#,
                    "myapp",
                    "ERROR",
                    t((2025, 1, 1), (12, 2, 0)),
                ),
                (
                    r#"{"level":30,"time":1735732980000,"pid":1,"hostname":"h","msg":"hello"}"#,
                    "dialects",
                    "INFO",
                    t((2025, 1, 1), (12, 3, 0)),
                ),
                (
                    r#"{"version":"1.1","host":"example.org","short_message":"A short message","level":1,"timestamp":1735733040.5,"_user_id":9001}"#,
                    "dialects",
                    "FATAL",
                    tm((2025, 1, 1), (12, 4, 0), 500),
                ),
                (
                    r#"{"@t":"2025-01-01T12:05:00.0000000Z","@mt":"Hello, {User}","User":"nblumhardt","@l":"Warning"}"#,
                    "dialects",
                    "WARN",
                    t((2025, 1, 1), (12, 5, 0)),
                ),
                (
                    r#"{"@t":"2025-01-01T12:05:01Z","@mt":"Information is the default"}"#,
                    "dialects",
                    "INFO",
                    t((2025, 1, 1), (12, 5, 1)),
                ),
            ],
        ),
        (
            // Free text: HealthApp's `|` fields, Blue Gene/L's RAS log,
            // OpenStack with the file name first, Proxifier, HPC.
            "healthapp.txt",
            vec![
                (
                    "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
                    "healthapp",
                    "UNKNOWN",
                    tm((2017, 12, 23), (22, 15, 29), 606),
                ),
                (
                    "20171223-22:15:29:633|Step_StandReportReceiver|30002312|onReceive action: android.intent.action.SCREEN_ON",
                    "healthapp",
                    "UNKNOWN",
                    tm((2017, 12, 23), (22, 15, 29), 633),
                ),
            ],
        ),
        (
            "bgl.log",
            vec![
                (
                    "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected",
                    "bgl",
                    "INFO",
                    t((2005, 6, 3), (22, 42, 50)),
                ),
                (
                    "KERNDTLB 1118536327 2005.06.11 R30-M0-N9-C:J16-U01 2005-06-11-17.32.07.581048 R30-M0-N9-C:J16-U01 RAS KERNEL FATAL data TLB error interrupt",
                    "bgl",
                    "FATAL",
                    t((2005, 6, 12), (0, 32, 7)),
                ),
            ],
        ),
        (
            "openstack.log",
            vec![(
                r#"nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server [req-38101a0b-2096-447d-96ea-a692162415ae 113d3a99c3da401fbd62cc2caa5b96d2 - - -] 10.11.10.1 "GET /v2/servers/detail HTTP/1.1" status: 200 len: 1893 time: 0.2477829"#,
                "openstack",
                "INFO",
                tm((2017, 5, 16), (0, 0, 0), 8),
            )],
        ),
        (
            "proxifier.log",
            vec![(
                "[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy proxy.cse.cuhk.edu.hk:5070 HTTPS",
                "proxifier",
                "UNKNOWN",
                t((2024, 10, 30), (16, 49, 6)),
            )],
        ),
        (
            "hpc.log",
            vec![(
                r"134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change: Component \042alt0\042 is in the unavailable state (HWID=1973)",
                "hpc",
                "UNKNOWN",
                t((2004, 2, 26), (14, 12, 22)),
            )],
        ),
    ]
}

/// Writes `lines` to `path` (one per line), dated [`written_by`].
fn write_sample(path: &Path, lines: &[Expected]) {
    let text: String = lines.iter().map(|(line, ..)| format!("{line}\n")).collect();
    std::fs::write(path, text).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(written_by() as u64);
    file.set_modified(at).unwrap();
}

/// What the expected lines add up to: levels by service, lines by service
/// and minute, and the lines without a time.
#[derive(Default, Debug, PartialEq)]
struct Tally {
    levels: BTreeMap<String, BTreeMap<String, u64>>,
    minutes: BTreeMap<(String, i64), u64>,
    untimed: BTreeMap<String, u64>,
}

impl Tally {
    fn add(&mut self, (_, service, level, time): &Expected) {
        let levels = self.levels.entry(service.to_string()).or_default();
        *levels.entry(level.to_string()).or_default() += 1;
        match time {
            Some(ms) => {
                *self
                    .minutes
                    .entry((service.to_string(), ms.div_euclid(60_000) * 60_000))
                    .or_default() += 1
            }
            None => *self.untimed.entry(service.to_string()).or_default() += 1,
        }
    }

    /// The same figures from `process --format json --detailed`, with the
    /// minutes the test does not expect taken as the untimed lines' (they
    /// count at the time of reading).
    fn of(stats: &Value, expected: &Tally) -> Tally {
        let mut tally = Tally::default();
        for (service, detail) in stats["services"].as_object().unwrap() {
            let levels = detail["levels"].as_object().unwrap();
            let nonzero = levels
                .iter()
                .filter(|(_, count)| count.as_u64() != Some(0))
                .map(|(level, count)| (level.clone(), count.as_u64().unwrap()));
            tally.levels.insert(service.clone(), nonzero.collect());
            for minute in detail["per_minute"].as_array().unwrap() {
                let key = (service.clone(), minute["start_ms"].as_i64().unwrap());
                let lines = minute["lines"].as_u64().unwrap();
                if expected.minutes.contains_key(&key) {
                    tally.minutes.insert(key, lines);
                } else {
                    *tally.untimed.entry(service.clone()).or_default() += lines;
                }
            }
        }
        tally
    }
}

#[test]
fn real_formats_count_exactly_with_no_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected = Tally::default();
    let mut paths = Vec::new();
    let mut total = 0;
    for (name, lines) in samples() {
        let path = dir.path().join(name);
        write_sample(&path, &lines);
        lines.iter().for_each(|line| expected.add(line));
        total += lines.len() as u64;
        paths.push(path);
    }
    let output = logproc()
        .args(["process", "--format", "json", "--detailed"])
        .args(&paths)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stats: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (stats["lines"].as_u64(), stats["invalid"].as_u64()),
        (Some(total), Some(0))
    );
    let found = Tally::of(&stats, &expected);
    for (service, levels) in &expected.levels {
        assert_eq!(found.levels.get(service), Some(levels), "levels of {service}");
    }
    assert_eq!(found, expected);
}

on_every_backend!(the_service_reports_each_files_format_and_keeps_it_across_a_restart => the_service_reports_each_files_format_and_keeps_it_across_a_restart);

fn the_service_reports_each_files_format_and_keeps_it_across_a_restart(dirs: Dirs) {
    let mut paths = Vec::new();
    for (name, lines) in samples() {
        let path = dirs.watched(name);
        write_sample(&path, &lines);
        paths.push((path, lines));
    }
    let app = App::spawn(&dirs, &[]);
    let format_of = |app: &App, path: &Path| {
        wait_for(&format!("{} in /sources", path.display()), || {
            let (_, sources) = app.get("/sources");
            sources
                .as_array()?
                .iter()
                .find(|source| source["source"] == path.to_str().unwrap())
                .cloned()
        })
    };
    for (path, lines) in &paths {
        app.wait_until_read(path);
        let source = format_of(&app, path);
        let untimed = lines.iter().filter(|(.., time)| time.is_none()).count();
        assert_eq!(
            (
                source["parsed"].as_u64(),
                source["invalid"].as_u64(),
                source["untimed"].as_u64()
            ),
            (Some(lines.len() as u64), Some(0), Some(untimed as u64)),
            "{source}"
        );
    }
    let format = |name: &str| {
        let path = dirs.watched(name);
        format_of(&app, &path)["format"].clone()
    };
    let formats: Vec<_> = [
        "auth.log",
        "rfc5424.log",
        "access.log",
        "error_log",
        "hadoop.log",
        "android.log",
        "healthapp.txt",
    ]
    .map(format)
    .to_vec();
    // Free text is no format: none is shown.
    let expected: Vec<Value> = ["syslog", "syslog-5424", "access", "apache-error", "java", "logcat"]
        .map(Value::from)
        .into_iter()
        .chain([Value::Null])
        .collect();
    assert_eq!(formats, expected);

    // Lines of another format appended later do not change the file's:
    // they are read as free text, also after a restart.
    let auth = dirs.watched("auth.log");
    let java = "2025-06-20 10:00:00,000 ERROR [main] com.example.App: failed\n".repeat(300);
    append(&auth, &java);
    app.wait_until_read(&auth);
    assert!(app.terminate().success());
    let app = App::spawn(&dirs, &[]);
    append(&auth, &java);
    app.wait_until_read(&auth);
    let source = format_of(&app, &auth);
    assert_eq!(source["format"], "syslog", "{source}");
    assert_eq!(source["parsed"], 605);
    // Free text: the level is found, the service is the file's.
    let (_, auth_stats) = app.get("/stats/auth");
    assert_eq!(auth_stats["levels"]["ERROR"], 600, "{auth_stats}");

    // Whatever comes after, in whatever format, across restarts: every
    // file keeps the format its first lines chose.
    let mut rng = crate::truth::Rng::new(11);
    let samples = samples();
    let mut app = app;
    let mut lines = 605;
    for round in 0..6 {
        let (_, other) = &samples[rng.below(samples.len())];
        let text: String = other.iter().map(|(line, ..)| format!("{line}\n")).collect();
        append(&auth, &text.repeat(50));
        lines += other.len() as u64 * 50;
        app.wait_until_read(&auth);
        if round % 2 == 1 {
            assert!(app.terminate().success());
            app = App::spawn(&dirs, &[]);
        }
        let source = format_of(&app, &auth);
        assert_eq!(
            (source["format"].as_str(), source["parsed"].as_u64()),
            (Some("syslog"), Some(lines)),
            "round {round}"
        );
    }
}

/// `YYYY-MM-DD HH:MM:SS` (any run of spaces between) at the start of `text`.
fn date_time(text: &str) -> Option<i64> {
    let (date, time) = text.split_once(' ')?;
    let time = time.trim_start().get(..8)?;
    let number = |text: &str| text.parse::<i64>().ok();
    let mut date = date.split('-').map(number);
    let mut time = time.split(':').map(number);
    let next = |parts: &mut dyn Iterator<Item = Option<i64>>| parts.next().flatten();
    let (year, month, day) = (next(&mut date)?, next(&mut date)?, next(&mut date)?);
    let (hour, minute, second) = (next(&mut time)?, next(&mut time)?, next(&mut time)?);
    Some(utc((year, month, day), (hour, minute, second), 0))
}

#[test]
fn the_machines_own_logs_count_every_line_at_its_time() {
    // dpkg's, update-alternatives' and apt's logs, as they are here.
    type TimeOf = fn(&str) -> Option<i64>;
    let logs: [(&str, &str, TimeOf); 3] = [
        ("/var/log/dpkg.log", "dpkg", |line| date_time(line)),
        ("/var/log/alternatives.log", "alternatives", |line| {
            date_time(line.strip_prefix("update-alternatives ")?)
        }),
        ("/var/log/apt/history.log", "history", |line| {
            let (_, date) = line.split_once("-Date: ")?;
            date_time(date)
        }),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut expected = Tally::default();
    let mut paths = Vec::new();
    let mut total = 0;
    for (log, service, time_of) in logs {
        let Ok(text) = std::fs::read_to_string(log) else {
            eprintln!("{log} is not on this machine");
            continue;
        };
        let path = dir.path().join(Path::new(log).file_name().unwrap());
        std::fs::write(&path, &text).unwrap();
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            total += 1;
            match time_of(line) {
                Some(ms) => {
                    *expected
                        .minutes
                        .entry((service.to_owned(), ms.div_euclid(60_000) * 60_000))
                        .or_default() += 1
                }
                None => *expected.untimed.entry(service.to_owned()).or_default() += 1,
            }
        }
        paths.push(path);
    }
    assert!(!paths.is_empty(), "no dpkg, alternatives or apt log on this machine");
    let output = logproc()
        .args(["process", "--format", "json", "--detailed"])
        .args(&paths)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stats: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (stats["lines"].as_u64(), stats["invalid"].as_u64()),
        (Some(total), Some(0))
    );
    let mut found = Tally::of(&stats, &expected);
    // These lines carry no level: the figures compared are lines and times.
    found.levels.clear();
    assert_eq!(found, expected);
}

#[test]
fn timestamp_format_timezone_levels_and_services_come_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        r#"routes:
  - glob: "*.applog"
    parser: regex
    settings:
      pattern: '^(?P<timestamp>\S+ \S+) \| (?P<level>\w+) \| (?P<component>\w+) \|'
    timestamp_format: "%d.%m.%Y %H:%M:%S"
    timezone: "Europe/Berlin"
    levels: {NOTICE: warn, SEVERE: fatal}
    service_from_path: '^(?P<service>[a-z]+)-\d+\.applog$'
  - glob: "*.access"
    parser: auto
    format: access
    levels: {"404": info, 5xx: fatal}
    service: web
"#,
    )
    .unwrap();
    let app_log = dir.path().join("billing-01.applog");
    std::fs::write(
        &app_log,
        "13.06.2025 14:00:01 | NOTICE | api | paid\n\
         13.06.2025 14:01:02 | SEVERE | db | lost\n\
         13.06.2025 14:01:03 | INFO | db | fine\n\
         13.01.2025 14:02:00 | INFO | db | winter: +01:00\n\
         2025-06-13 12:00:00 | INFO | db | wrong time spelling for this route\n",
    )
    .unwrap();
    let access = dir.path().join("edge.access");
    std::fs::write(
        &access,
        "203.0.113.7 - - [02/Jan/2025:03:04:05 +0000] \"GET /a HTTP/1.1\" 404 1 \"-\" \"x\"\n\
         203.0.113.7 - - [02/Jan/2025:03:04:06 +0000] \"GET /b HTTP/1.1\" 502 1 \"-\" \"x\"\n\
         203.0.113.7 - - [02/Jan/2025:03:04:07 +0000] \"GET /c HTTP/1.1\" 403 1 \"-\" \"x\"\n\
         not an access log line\n",
    )
    .unwrap();
    let output = logproc()
        .args(["process", "--format", "json", "--detailed", "--config"])
        .arg(&config)
        .args([&app_log, &access])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stats: Value = serde_json::from_slice(&output.stdout).unwrap();
    // A line not in the route's own spelling, or format, is invalid.
    assert_eq!((stats["lines"].as_u64(), stats["invalid"].as_u64()), (Some(9), Some(2)));
    let billing = &stats["services"]["billing"];
    assert_eq!(
        ["WARN", "FATAL", "INFO"].map(|level| billing["levels"][level].as_u64()),
        [Some(1), Some(1), Some(2)]
    );
    let minutes: Vec<_> = billing["per_minute"]
        .as_array()
        .unwrap()
        .iter()
        .map(|minute| (minute["start_ms"].as_i64().unwrap(), minute["lines"].as_u64().unwrap()))
        .collect();
    // 14:00 and 14:01 in Berlin in June (+02:00, summer time) are 12:00
    // and 12:01 UTC.
    assert_eq!(
        minutes,
        [
            (utc((2025, 1, 13), (13, 2, 0), 0), 1),
            (utc((2025, 6, 13), (12, 0, 0), 0), 1),
            (utc((2025, 6, 13), (12, 1, 0), 0), 2)
        ]
    );
    // A zone that is none, or an offset that is none, stops the start.
    for (zone, message) in [
        ("Mars/Olympus_Mons", "timezone `Mars/Olympus_Mons`: cannot read"),
        ("+25:00", "timezone `+25:00` is not an offset from UTC"),
    ] {
        let bad = dir.path().join("bad.yaml");
        let route = format!("routes:\n  - {{glob: \"*.log\", parser: auto, timezone: \"{zone}\"}}\n");
        std::fs::write(&bad, route).unwrap();
        let output = logproc()
            .args(["process", "--config"])
            .arg(&bad)
            .arg(&app_log)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && stderr.contains(message), "{zone}: {stderr}");
    }
    let web = &stats["services"]["web"];
    assert_eq!(
        ["INFO", "FATAL", "WARN"].map(|level| web["levels"][level].as_u64()),
        [Some(1), Some(1), Some(1)]
    );
}

#[test]
fn process_explain_names_each_files_format_and_its_first_invalid_lines() {
    let dir = tempfile::tempdir().unwrap();
    let syslog = dir.path().join("auth.log");
    std::fs::write(
        &syslog,
        "Jun 14 15:16:01 combo sshd[1]: ok\n{\"bad json\nfree text, no time\n",
    )
    .unwrap();
    let json = dir.path().join("app.jsonl");
    std::fs::write(&json, "{\"level\":\"INFO\"}\nnot json\n").unwrap();
    let output = logproc()
        .args(["process", "--format", "json", "--explain"])
        .args([&syslog, &json])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stats: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((stats["lines"].as_u64(), stats["invalid"].as_u64()), (Some(5), Some(2)));
    let report = String::from_utf8(output.stderr).unwrap();
    let expected = [
        format!(
            "{}: parser auto, format syslog; 2 parsed, 1 invalid, 1 without a readable time",
            syslog.display()
        ),
        "  line 2: invalid JSON: line ends inside a string at column 11".to_owned(),
        "    {\"bad json".to_owned(),
        format!("{}: parser json, ", json.display()),
        "  line 2: not a JSON object".to_owned(),
    ];
    for part in expected {
        assert!(report.contains(&part), "`{part}` in:\n{report}");
    }
}
