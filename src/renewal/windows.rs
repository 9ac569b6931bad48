//! The renewal step's windows (cert-manager v1.21 `spec.renewal.windows`): a renewal due while
//! no window is open waits for the next one to open. Schedules are cert-manager's cron dialect
//! (robfig's five fields, names, `?`, the `@` descriptors), run by jiff-cron. Pure.

use crate::api::certificate::RenewalWindow;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use jiff_cron::Schedule;
use std::str::FromStr;

/// A window, parsed: when it opens, for how long, in which zone.
pub struct Window {
    starts: Starts,
    duration: SignedDuration,
    tz: TimeZone,
}

enum Starts {
    /// Several schedules when robfig's rule makes a day of the month or of the week match.
    Cron(Vec<Schedule>),
    /// `@every <duration>`: counted from the start of the search, as robfig's constant delay.
    Every(SignedDuration),
}

/// What is wrong with a window, by the field at fault, in cert-manager's webhook's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    Cron(String),
    Timezone,
    Duration,
}

impl Invalid {
    pub fn field(&self) -> &'static str {
        match self {
            Invalid::Cron(_) => "cron",
            Invalid::Timezone => "timezone",
            Invalid::Duration => "windowDuration",
        }
    }

    pub fn detail(&self) -> String {
        match self {
            Invalid::Cron(e) => format!(
                "invalid cron syntax: {e}. cron needs to follow: cron.Minute | cron.Hour | \
                 cron.Dom | cron.Month | cron.Dow"
            ),
            Invalid::Timezone => {
                "invalid value for timezone. timezone must be IANA compliant".into()
            }
            Invalid::Duration => {
                "windowDuration must be specified and should be greater than 0".into()
            }
        }
    }
}

pub fn parse(window: &RenewalWindow) -> Result<Window, Invalid> {
    let tz = match window.timezone.as_deref().filter(|t| !t.is_empty()) {
        None => TimeZone::UTC,
        Some(name) => TimeZone::get(name).map_err(|_| Invalid::Timezone)?,
    };
    let duration = crate::validation::names::parse_duration(&window.window_duration)
        .ok()
        .and_then(|d| SignedDuration::try_from(d).ok())
        .filter(|d| d.is_positive())
        .ok_or(Invalid::Duration)?;
    let starts = starts(&window.cron).map_err(Invalid::Cron)?;
    Ok(Window { starts, duration, tz })
}

/// When a renewal due at `due` starts, for a certificate valid from `not_before` to
/// `not_after`: at `due` when a window is open then (one opened at most its duration before,
/// its end included), else when the next one opens (by `not_after` plus its duration), as
/// cert-manager's RenewalTime. `Err` says that none opens by then.
pub fn start(
    due: Timestamp,
    not_before: Timestamp,
    not_after: Timestamp,
    windows: &[Window],
) -> Result<Timestamp, String> {
    let mut next: Option<Timestamp> = None;
    for w in windows {
        // A window longer than the time a Timestamp spans (a tenant's 100000000h) opens
        // nothing; jiff's plain arithmetic would panic.
        let (Ok(search_min), Ok(search_max), Ok(back)) = (
            not_before.checked_sub(w.duration),
            not_after.checked_add(w.duration),
            due.checked_sub(w.duration + SignedDuration::from_nanos(1)),
        ) else {
            continue;
        };
        let opened = w.first_start_after(back, search_min);
        if opened.is_some_and(|s| s <= due) {
            return Ok(due);
        }
        let Some(start) = w.first_start_after(due, search_min) else { continue };
        if start <= search_max && next.is_none_or(|n| start < n) {
            next = Some(start);
        }
    }
    next.ok_or_else(|| {
        format!(
            "cannot find a time with the given windows between {not_before} and {not_after} for: {due}"
        )
    })
}

impl Window {
    /// The first time the window opens strictly after `after`; `@every` counts from `origin`.
    fn first_start_after(&self, after: Timestamp, origin: Timestamp) -> Option<Timestamp> {
        match &self.starts {
            Starts::Every(every) => {
                let since = after.duration_since(origin);
                let k =
                    if since.is_negative() { 1 } else { since.as_nanos() / every.as_nanos() + 1 };
                let k = i32::try_from(k).ok()?;
                origin.checked_add(every.checked_mul(k)?).ok()
            }
            Starts::Cron(schedules) => {
                let from = after.to_zoned(self.tz.clone());
                schedules
                    .iter()
                    .filter_map(|s| s.after(from.clone()).next())
                    .map(|z| z.timestamp())
                    .min()
            }
        }
    }
}

/// cert-manager's cron dialect as jiff-cron schedules (seconds first, Sunday = 1).
fn starts(expr: &str) -> Result<Starts, String> {
    let expr = expr.trim();
    let fields = match expr {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ if expr.starts_with("@every ") => {
            let every = expr.trim_start_matches("@every ").trim();
            let every = crate::validation::names::parse_duration(every)
                .map_err(|_| format!("failed to parse duration {expr}"))?;
            let every = SignedDuration::try_from(every).map_err(|e| e.to_string())?;
            // robfig rounds the delay to whole seconds, at least one.
            let secs = every.as_secs().max(1);
            return Ok(Starts::Every(SignedDuration::from_secs(secs)));
        }
        _ if expr.starts_with('@') => return Err(format!("unrecognized descriptor: {expr}")),
        _ => expr,
    };
    let f: Vec<&str> = fields.split_whitespace().collect();
    if f.len() != 5 {
        return Err(format!("expected exactly 5 fields, found {}: [{fields}]", f.len()));
    }
    let dow = days_of_week(f[4])?;
    let dom = f[2].replace('?', "*");
    let make = |dom: &str, dow: &str| {
        let spec = format!("0 {} {} {dom} {} {dow}", f[0], f[1], f[3]);
        Schedule::from_str(&spec).map_err(|e| e.to_string())
    };
    // robfig: when both days are restricted, a day that matches either one matches.
    let schedules = if !unrestricted(f[2]) && !unrestricted(f[4]) {
        vec![make(&dom, "*")?, make("*", &dow)?]
    } else {
        vec![make(&dom, &dow)?]
    };
    Ok(Starts::Cron(schedules))
}

/// Whether a field is robfig's "any" (`*` or `?`, without a step).
fn unrestricted(field: &str) -> bool {
    field.split(',').any(|p| p == "*" || p == "?")
}

/// robfig's days of the week (0–6, Sunday 0) as jiff-cron's (1–7, Sunday 1); names unchanged.
fn days_of_week(field: &str) -> Result<String, String> {
    let day = |d: &str| -> Result<String, String> {
        match d.parse::<u32>() {
            Ok(n @ 0..=6) => Ok((n + 1).to_string()),
            Ok(n) => Err(format!("end of range ({n}) above maximum (6): {field}")),
            Err(_) => Ok(d.to_string()),
        }
    };
    let part = |p: &str| -> Result<String, String> {
        let (range, step) = match p.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (p, None),
        };
        let range = match range {
            "*" | "?" => "*".to_string(),
            r => match r.split_once('-') {
                Some((a, b)) => format!("{}-{}", day(a)?, day(b)?),
                None => day(r)?,
            },
        };
        Ok(match step {
            Some(s) => format!("{range}/{s}"),
            None => range,
        })
    };
    Ok(field.split(',').map(part).collect::<Result<Vec<_>, _>>()?.join(","))
}

#[cfg(test)]
#[path = "windows_tests.rs"]
mod tests;
