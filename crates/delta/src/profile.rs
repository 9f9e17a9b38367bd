//! The load profile of a run, which two sides must share to be compared: users, the user class
//! (or scenario), the open model's arrival rate, the stages.

use std::fmt;

use serde::Serialize;

use iris_record::RunRecord;

/// What load a run put on the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub users: u32,
    /// The user class, with its scenario file's name when it came from one.
    pub class: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrival_rate: Option<f64>,
    /// `duration:target` of each stage, as `--stages` takes them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<String>,
}

impl Profile {
    pub fn of(record: &RunRecord) -> Self {
        let p = &record.params;
        let class = match p.scenario.as_ref().and_then(|s| s.file_name()) {
            Some(file) => format!("{} ({})", p.user_class, file.to_string_lossy()),
            None => p.user_class.clone(),
        };
        Self {
            users: p.users,
            class,
            arrival_rate: p.arrival_rate,
            stages: p
                .stages
                .iter()
                .map(|s| format!("{}:{}", trim(s.duration_s), trim(s.target)))
                .collect(),
        }
    }
}

fn trim(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.arrival_rate {
            Some(rate) => write!(f, "arrival rate {}/s", trim(rate))?,
            None => write!(f, "{} users", self.users)?,
        }
        write!(f, ", {}", self.class)?;
        if !self.stages.is_empty() {
            write!(f, ", stages {}", self.stages.join(","))?;
        }
        Ok(())
    }
}

/// Items grouped by profile, in the order each profile was first seen.
pub fn group<T>(items: Vec<T>, profile: impl Fn(&T) -> Profile) -> Vec<(Profile, Vec<T>)> {
    let mut groups: Vec<(Profile, Vec<T>)> = Vec::new();
    for item in items {
        let p = profile(&item);
        match groups.iter_mut().find(|(q, _)| *q == p) {
            Some((_, members)) => members.push(item),
            None => groups.push((p, vec![item])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_read_as_the_flags_were_given() {
        let p = Profile {
            users: 150,
            class: "IrisPredictionAPIUser".into(),
            arrival_rate: None,
            stages: vec![],
        };
        assert_eq!(p.to_string(), "150 users, IrisPredictionAPIUser");
        let open = Profile {
            arrival_rate: Some(200.5),
            stages: vec!["60:200".into(), "30:0".into()],
            ..p.clone()
        };
        assert_eq!(
            open.to_string(),
            "arrival rate 200.5/s, IrisPredictionAPIUser, stages 60:200,30:0"
        );
        assert_eq!(trim(0.25), "0.25");
        assert_eq!(trim(300.0), "300");
    }

    #[test]
    fn grouping_keeps_the_first_seen_order() {
        let p = |u: u32| Profile {
            users: u,
            class: "C".into(),
            arrival_rate: None,
            stages: vec![],
        };
        let groups = group(vec![300, 150, 300], |&u| p(u));
        assert_eq!(groups.len(), 2);
        assert_eq!((groups[0].0.users, groups[0].1.len()), (300, 2));
        assert_eq!((groups[1].0.users, groups[1].1.len()), (150, 1));
    }
}
