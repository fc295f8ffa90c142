//! The README's example SQL, run as written against the live database of
//! each SQL backend, answers what `/stats` and the data written say; the
//! `plugins` table names the plugins `/plugins` lists.

use std::collections::BTreeMap;

use crate::helpers::{App, Dirs, append};

/// Minutes before now of the lines written: 70 and 200 fall outside the
/// last hour, and 200 may fall on yesterday (UTC).
const MINUTES_AGO: [i64; 5] = [5, 20, 50, 70, 200];

/// The `sql` block under the README's heading `heading`, as statements.
fn readme_queries(heading: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme.find(heading).unwrap_or_else(|| panic!("README has {heading}"))..];
    let block = &section[section.find("```sql\n").unwrap() + 7..];
    let block = &block[..block.find("```").unwrap()];
    block
        .split(';')
        .map(str::trim)
        .filter(|statement| !statement.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Runs the two README queries through `run` (wrapped by `per_minute`,
/// which turns the first query's time column into unix seconds) and checks
/// them against the data and `/stats`.
fn check_readme_queries(dirs: &Dirs, heading: &str, per_minute: &str, run: &dyn Fn(&str) -> Vec<(String, i64)>) {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let minute = |ms: i64| ms.div_euclid(60_000) * 60;
    let day_start = now_ms.div_euclid(86_400_000) * 86_400;
    let hour_ago = now_ms / 1000 - 3600;
    // (service, level) of each line; `api` errs in every minute, `web` in some.
    let mut lines = String::new();
    let mut api_errors = BTreeMap::<i64, i64>::new();
    let mut errors_today = BTreeMap::<String, i64>::new();
    for (i, ago) in MINUTES_AGO.iter().enumerate() {
        let ms = now_ms - ago * 60_000;
        for (service, level, count) in [
            ("api", "error", 3 + i),
            ("api", "fatal", 1),
            ("api", "warn", 2),
            ("web", "error", i),
            ("db", "info", 4),
        ] {
            for _ in 0..count {
                lines.push_str(&format!(
                    "{{\"ts\": {ms}, \"level\": \"{level}\", \"service\": \"{service}\", \"component\": \"c\", \"msg\": \"m\"}}\n"
                ));
            }
            let errs = matches!(level, "error" | "fatal");
            if errs && service == "api" && minute(ms) >= hour_ago {
                *api_errors.entry(minute(ms)).or_default() += count as i64;
            }
            if errs && minute(ms) >= day_start && count > 0 {
                *errors_today.entry(service.to_owned()).or_default() += count as i64;
            }
        }
    }
    let file = dirs.watched("app.jsonl");
    append(&file, &lines);
    let app = App::spawn(dirs, &[]);
    app.wait_until_read(&file);

    let queries = readme_queries(heading);
    assert_eq!(queries.len(), 2, "{queries:?}");
    let per_minute_rows = run(&per_minute.replace("{query}", &queries[0]));
    let got: Vec<(i64, i64)> = per_minute_rows
        .iter()
        .map(|(time, errors)| (time.parse().unwrap(), *errors))
        .collect();
    assert_eq!(got, api_errors.clone().into_iter().collect::<Vec<_>>());
    // What /stats says of the same minutes.
    let (_, api) = app.get("/stats/api?minutes=1000");
    let from_stats: Vec<(i64, i64)> = api["per_minute"]
        .as_array()
        .unwrap()
        .iter()
        .map(|minute| {
            (
                minute["start_ms"].as_i64().unwrap() / 1000,
                minute["errors"].as_i64().unwrap(),
            )
        })
        .filter(|&(start, errors)| start >= hour_ago && errors > 0)
        .collect();
    assert_eq!(got, from_stats);

    let top = run(&queries[1]);
    let mut expected: Vec<(String, i64)> = errors_today.into_iter().collect();
    expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    assert_eq!(top, expected);
    for (service, errors) in &top {
        let (_, document) = app.get(&format!("/stats/{service}?minutes=1000"));
        let today: i64 = document["per_minute"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|minute| minute["start_ms"].as_i64().unwrap() / 1000 >= day_start)
            .map(|minute| minute["errors"].as_i64().unwrap())
            .sum();
        assert_eq!(today, *errors, "{service}");
    }

    // The plugins table names what /plugins lists (written once loaded).
    let (_, plugins) = app.get("/plugins");
    let mut listed: Vec<(String, i64)> = plugins["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|plugin| {
            (
                format!("{} {} {}", plugin["name"], plugin["source"], plugin["sha256"]).replace('"', ""),
                0,
            )
        })
        .collect();
    listed.sort();
    assert!(!listed.is_empty());
    crate::helpers::wait_for("the plugins table", || {
        let recorded = run("SELECT name || ' ' || source || ' ' || sha256, 0 FROM plugins ORDER BY name");
        (recorded == listed).then_some(())
    });
}

#[test]
fn the_readmes_sqlite_queries_answer_what_stats_says() {
    let dirs = Dirs::on("sqlite");
    let path = dirs.data().join("logproc.sqlite");
    let run = |sql: &str| {
        // Read while the service runs, as a user's shell would.
        let db = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let mut statement = db.prepare(sql).unwrap();
        let rows = statement
            .query_map([], |row| {
                let first = match row.get_ref(0)? {
                    rusqlite::types::ValueRef::Text(text) => String::from_utf8_lossy(text).into_owned(),
                    other => other.as_i64()?.to_string(),
                };
                Ok((first, row.get(1)?))
            })
            .unwrap();
        rows.collect::<Result<Vec<_>, _>>().unwrap()
    };
    check_readme_queries(
        &dirs,
        "### SQLite",
        "SELECT CAST(strftime('%s', time) AS INTEGER), errors FROM ({query})",
        &run,
    );
}

#[test]
fn the_readmes_postgres_queries_answer_what_stats_says() {
    let Some(dirs) = Dirs::on_postgres() else { return };
    let postgres = dirs.postgres.as_ref().unwrap();
    let run = |sql: &str| {
        postgres
            .psql(sql)
            .lines()
            .map(|line| {
                let (first, n) = line.rsplit_once('|').unwrap();
                (first.to_owned(), n.parse().unwrap())
            })
            .collect()
    };
    check_readme_queries(
        &dirs,
        "### PostgreSQL",
        "SELECT extract(epoch FROM time)::bigint, errors FROM ({query}) AS q",
        &run,
    );
}
