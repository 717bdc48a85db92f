//! Search used in-process by code that would otherwise call the subgraph (`looma eval chat`,
//! chat's eval test): documents exactly as `looma_search_client` sends them to
//! `indexDocuments`, and knowledge retrieval as chat asks `hybridSearch(collection:
//! KNOWLEDGE)`. The one translation between the client's documents and this service's inputs.

use crate::SearchError;
use crate::schema::{IndexDocumentInput, SearchCollection};
use crate::service::{RankedRequest, SearchService};
use looma_search_client::{Collection, SearchDocument};

impl SearchService {
    /// Indexes `documents` in batches of `search.max_batch`, as `indexDocuments` would.
    pub async fn index_client_documents(
        &self,
        documents: &[SearchDocument],
    ) -> Result<(), SearchError> {
        for group in documents.chunks(self.max_batch().max(1)) {
            let mut inputs = Vec::with_capacity(group.len());
            for (at, doc) in group.iter().enumerate() {
                if doc.vector.is_some() {
                    self.check_vector_model(
                        &format!("documents[{at}].vectorModel"),
                        doc.vector_model.as_deref(),
                    )?;
                }
                inputs.push(IndexDocumentInput::from(doc).into());
            }
            self.index(inputs).await?;
        }
        Ok(())
    }

    /// The ids of the best `top_k` KNOWLEDGE chunks for `question` (hybrid search, names
    /// visible), best first.
    pub async fn knowledge_hits(
        &self,
        question: &str,
        top_k: usize,
    ) -> Result<Vec<String>, SearchError> {
        let request = RankedRequest {
            collection: SearchCollection::Knowledge.into(),
            top_k,
            filters: Default::default(),
            names: true,
        };
        Ok(self
            .hybrid_search(request, question, None, None)
            .await?
            .into_iter()
            .map(|hit| hit.id)
            .collect())
    }
}

impl From<&SearchDocument> for IndexDocumentInput {
    fn from(doc: &SearchDocument) -> Self {
        IndexDocumentInput {
            id: doc.id.clone().into(),
            collection: match doc.collection {
                Collection::Resumes => SearchCollection::Resumes,
                Collection::Jobs => SearchCollection::Jobs,
                Collection::Knowledge => SearchCollection::Knowledge,
            },
            title: doc.title.clone(),
            content: doc.content.clone(),
            skills: doc.skills.clone(),
            city: doc.city.clone(),
            degree: doc.degree.clone(),
            years: doc.years,
            salary_min: doc.salary_min,
            salary_max: doc.salary_max,
            status: doc.status.clone(),
            name: doc.name.clone(),
            job_family: doc.job_family.clone(),
            keywords: doc.keywords.clone(),
            metadata: Some(doc.metadata.clone().into()),
            vector: doc.vector.clone(),
            vector_model: doc.vector_model.clone(),
        }
    }
}
