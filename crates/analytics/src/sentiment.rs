//! Sentiment of a text (candidate feedback, chat messages) from the sentiment head's two
//! probabilities: the score is P(positive) − P(negative), in −1..1, and a text whose score is
//! close to 0 is neutral.

use crate::head::LinearHead;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SentimentLabel {
    Positive,
    Neutral,
    Negative,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Sentiment {
    pub label: SentimentLabel,
    /// P(positive) − P(negative): −1 surely negative, +1 surely positive.
    pub score: f32,
}

/// |score| below this is neutral. Fixed, not tuned: the public sets label only positive and
/// negative, so there is no neutral class to tune it on (see README, text analytics).
pub const NEUTRAL_MARGIN: f32 = 0.2;

/// The head's labels, in file order.
pub const LABELS: [&str; 2] = ["negative", "positive"];

pub(crate) fn from_vector(head: &LinearHead, vector: &[f32]) -> Sentiment {
    let p = head.probabilities(vector);
    let index = |name: &str| head.labels.iter().position(|l| l == name);
    let (Some(neg), Some(pos)) = (index(LABELS[0]), index(LABELS[1])) else {
        return Sentiment {
            label: SentimentLabel::Neutral,
            score: 0.0,
        };
    };
    from_score(p[pos] - p[neg])
}

pub(crate) fn from_score(score: f32) -> Sentiment {
    let label = if score >= NEUTRAL_MARGIN {
        SentimentLabel::Positive
    } else if score <= -NEUTRAL_MARGIN {
        SentimentLabel::Negative
    } else {
        SentimentLabel::Neutral
    };
    Sentiment { label, score }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_near_zero_are_neutral() {
        assert_eq!(from_score(0.9).label, SentimentLabel::Positive);
        assert_eq!(from_score(0.1).label, SentimentLabel::Neutral);
        assert_eq!(from_score(-0.1).label, SentimentLabel::Neutral);
        assert_eq!(from_score(-0.5).label, SentimentLabel::Negative);
    }
}
