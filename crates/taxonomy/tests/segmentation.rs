//! Segmentation with the domain dictionary, and keywords without resume boilerplate.

use looma_taxonomy::{Segmenter, normalize_text};

fn cut(text: &str) -> Vec<String> {
    Segmenter::builtin().cut(text)
}

#[test]
fn job_titles_stay_whole() {
    assert_eq!(cut("高级后端开发工程师"), vec!["高级", "后端开发工程师"]);
    assert_eq!(cut("机器学习算法工程师"), vec!["机器学习算法工程师"]);
    assert_eq!(cut("资深产品经理"), vec!["资深", "产品经理"]);
}

#[test]
fn skills_and_schools_stay_whole() {
    let words = cut("毕业于北京航空航天大学，熟悉自然语言处理和Spring Boot");
    assert!(words.contains(&"北京航空航天大学".to_string()), "{words:?}");
    assert!(words.contains(&"自然语言处理".to_string()), "{words:?}");
}

#[test]
fn dates_and_phones_are_single_tokens_and_punctuation_is_dropped() {
    let words = cut("２０１９．０３－至今，电话：１３８００１３８０００。");
    assert_eq!(words, vec!["2019.03-至今", "电话", "13800138000"]);
    let words = cut("2016年9月-2020年6月 清华大学 本科");
    assert_eq!(words, vec!["2016年9月-2020年6月", "清华大学", "本科"]);
}

#[test]
fn search_mode_adds_sub_words() {
    let words = Segmenter::builtin().cut_for_search("后端开发工程师");
    assert!(words.contains(&"后端开发工程师".to_string()), "{words:?}");
    assert!(words.contains(&"工程师".to_string()), "{words:?}");
}

#[test]
fn keywords_skip_boilerplate() {
    let text = "负责推荐系统的设计与开发，参与特征工程和模型训练，熟悉TensorFlow与PyTorch。\
        负责推荐算法的线上部署，参与A/B实验。Responsible for the recommendation pipeline; experience with Spark.";
    let keywords = Segmenter::builtin().keywords(text, 8);
    assert_eq!(keywords.len(), 8);
    let words: Vec<&str> = keywords.iter().map(|(w, _)| w.as_str()).collect();
    for boilerplate in [
        "负责",
        "参与",
        "熟悉",
        "Responsible",
        "responsible",
        "experience",
    ] {
        assert!(!words.contains(&boilerplate), "{boilerplate} in {words:?}");
    }
    assert!(words.iter().any(|w| w.contains("推荐")), "{words:?}");
    assert!(
        keywords.windows(2).all(|w| w[0].1 >= w[1].1),
        "weights must be descending"
    );
    assert!(Segmenter::builtin().keywords(text, 0).is_empty());
}

#[test]
fn jieba_is_shared_for_the_search_engine() {
    let jieba = Segmenter::builtin().jieba();
    assert!(jieba.has_word("后端开发工程师"));
    assert_eq!(normalize_text("Ｇｏ"), "Go");
}
