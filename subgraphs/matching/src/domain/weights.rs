//! Component weights as identity's `matching.weights` setting holds them, normalised so they
//! sum to 1 and a match score stays within [0, 1].

use serde_json::Value;

/// The components of a match score, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    RequiredSkills,
    PreferredSkills,
    Semantic,
    Experience,
    Education,
    Location,
    Salary,
}

impl Component {
    pub const ALL: [Component; 7] = [
        Component::RequiredSkills,
        Component::PreferredSkills,
        Component::Semantic,
        Component::Experience,
        Component::Education,
        Component::Location,
        Component::Salary,
    ];

    /// The key in `matching.weights`.
    pub const fn key(self) -> &'static str {
        match self {
            Component::RequiredSkills => "required_skills",
            Component::PreferredSkills => "preferred_skills",
            Component::Semantic => "semantic",
            Component::Experience => "experience",
            Component::Education => "education",
            Component::Location => "location",
            Component::Salary => "salary",
        }
    }
}

/// Normalised weights (sum 1) and the config version they came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    pub version: i32,
    values: [f64; 7],
}

impl Weights {
    /// The built-in defaults (identity's version 0 of `matching.weights`).
    pub fn defaults() -> Weights {
        Weights::from_pairs(
            0,
            &[
                (Component::RequiredSkills, 0.35),
                (Component::PreferredSkills, 0.10),
                (Component::Semantic, 0.20),
                (Component::Experience, 0.15),
                (Component::Education, 0.05),
                (Component::Location, 0.10),
                (Component::Salary, 0.05),
            ],
        )
    }

    pub fn from_pairs(version: i32, pairs: &[(Component, f64)]) -> Weights {
        let mut values = [0.0; 7];
        for (component, weight) in pairs {
            values[*component as usize] = weight.max(0.0);
        }
        Weights::normalised(version, values)
    }

    fn normalised(version: i32, mut values: [f64; 7]) -> Weights {
        let sum: f64 = values.iter().sum();
        if sum > 0.0 {
            for v in values.iter_mut() {
                *v /= sum;
            }
        } else {
            values = [1.0 / 7.0; 7];
        }
        Weights { version, values }
    }

    /// Reads identity's JSON object (`{"required_skills": 0.35, ...}`); missing or invalid
    /// components weigh 0. `None` when nothing usable is there.
    pub fn from_json(version: i32, value: &Value) -> Option<Weights> {
        let object = value.as_object()?;
        let mut values = [0.0; 7];
        for component in Component::ALL {
            if let Some(weight) = object.get(component.key()).and_then(Value::as_f64)
                && weight.is_finite()
                && weight >= 0.0
            {
                values[component as usize] = weight;
            }
        }
        (values.iter().sum::<f64>() > 0.0).then(|| Weights::normalised(version, values))
    }

    pub fn get(&self, component: Component) -> f64 {
        self.values[component as usize]
    }

    pub fn to_json(&self) -> Value {
        Value::Object(
            Component::ALL
                .iter()
                .map(|c| (c.key().to_owned(), Value::from(self.get(*c))))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalised_and_read_from_identity() {
        let d = Weights::defaults();
        let sum: f64 = Component::ALL.iter().map(|c| d.get(*c)).sum();
        assert!((sum - 1.0).abs() < 1e-12);
        let w = Weights::from_json(3, &json!({"required_skills": 2, "semantic": 2, "bogus": 9}))
            .expect("usable");
        assert_eq!(w.version, 3);
        assert_eq!(w.get(Component::RequiredSkills), 0.5);
        assert_eq!(w.get(Component::Location), 0.0);
        assert!(Weights::from_json(1, &json!({"semantic": 0})).is_none());
        assert!(Weights::from_json(1, &json!([1, 2])).is_none());
    }
}
