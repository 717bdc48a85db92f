//! The tantivy schema every collection of [`TantivyTextIndex`](super::TantivyTextIndex) shares
//! and the handles of its fields. Its own module so that the query builder (`text_query`)
//! needs nothing from the index (`text`), which uses the builder: the dependency runs one way.

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::embedded::analyzer::TEXT_TOKENIZER;

/// Field handles of the schema every collection shares.
pub(crate) struct SchemaFields {
    pub(crate) id: Field,
    pub(crate) title: Field,
    pub(crate) content: Field,
    /// Title and content as one text, what unqualified words are scored against: one BM25 over
    /// the whole document, as a reference BM25 ranks, rather than two added up.
    pub(crate) text: Field,
    pub(crate) name: Field,
    pub(crate) skills_text: Field,
    pub(crate) skills: Field,
    pub(crate) city: Field,
    pub(crate) degree: Field,
    pub(crate) status: Field,
    pub(crate) job_family: Field,
    pub(crate) keywords: Field,
    pub(crate) years: Field,
    pub(crate) salary_min: Field,
    pub(crate) salary_max: Field,
    /// `salary_min.or(salary_max)`: the low end of the document's salary range.
    pub(crate) salary_low: Field,
    /// `salary_max.or(salary_min)`: the high end of the document's salary range.
    pub(crate) salary_high: Field,
    pub(crate) metadata: Field,
    /// The whole [`DocumentFields`](crate::DocumentFields) as JSON, so `get` returns exactly
    /// what was indexed.
    pub(crate) fields_json: Field,
}

/// The name of the id field, which is also a fast field to order ties by.
pub(crate) const ID_FIELD: &str = "id";

pub(crate) fn schema() -> (Schema, SchemaFields) {
    let mut builder = Schema::builder();
    let analyzed = TextFieldIndexing::default()
        .set_tokenizer(TEXT_TOKENIZER)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let stored_text = TextOptions::default()
        .set_indexing_options(analyzed.clone())
        .set_stored();
    let searchable_text = TextOptions::default().set_indexing_options(analyzed);
    let number = INDEXED | FAST;
    let fields = SchemaFields {
        // Fast, so that hits with equal scores are ordered by id (`CollectionIndex::search`).
        id: builder.add_text_field(ID_FIELD, STRING | STORED | FAST),
        title: builder.add_text_field("title", stored_text.clone()),
        content: builder.add_text_field("content", stored_text.clone()),
        name: builder.add_text_field("name", stored_text),
        text: builder.add_text_field("text", searchable_text.clone()),
        skills_text: builder.add_text_field("skills_text", searchable_text),
        skills: builder.add_text_field("skills", STRING | FAST),
        city: builder.add_text_field("city", STRING | FAST),
        degree: builder.add_text_field("degree", STRING | FAST),
        status: builder.add_text_field("status", STRING | FAST),
        job_family: builder.add_text_field("job_family", STRING | FAST),
        keywords: builder.add_text_field("keywords", STRING | FAST),
        years: builder.add_f64_field("years", number.clone()),
        salary_min: builder.add_f64_field("salary_min", number.clone()),
        salary_max: builder.add_f64_field("salary_max", number.clone()),
        salary_low: builder.add_f64_field("salary_low", number.clone()),
        salary_high: builder.add_f64_field("salary_high", number),
        metadata: builder.add_text_field("metadata", STORED),
        fields_json: builder.add_text_field("fields_json", STORED),
    };
    (builder.build(), fields)
}
