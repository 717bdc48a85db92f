//! Qdrant's answers to the calls the adapter makes, as the gRPC messages of Qdrant's
//! `collections_service.proto` / `points_service.proto` (the generated types shipped in
//! `qdrant-client` 1.20, so they encode to the same protobuf bytes the server sends). Values
//! follow what Qdrant 1.x returns: `time` in seconds, `UpdateStatus::Completed` for `wait=true`
//! writes, cosine similarities as scores, payload limited to the selected keys.

use std::collections::HashMap;

use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::{
    AliasDescription, CollectionDescription, CollectionExists, CollectionExistsResponse,
    CollectionOperationResponse, CountResponse, CountResult, ListAliasesResponse,
    ListCollectionsResponse, PointId, PointsOperationResponse, QueryResponse, ScoredPoint,
    UpdateResult, UpdateStatus, Usage, Value,
};

pub fn collection_exists(exists: bool) -> CollectionExistsResponse {
    CollectionExistsResponse {
        result: Some(CollectionExists { exists }),
        time: 0.000_041,
    }
}

pub fn collection_created() -> CollectionOperationResponse {
    CollectionOperationResponse {
        result: true,
        time: 0.089_216,
    }
}

/// `ListCollections`: every collection's name (aliases are not listed).
pub fn collections(names: &[&str]) -> ListCollectionsResponse {
    ListCollectionsResponse {
        collections: names
            .iter()
            .map(|name| CollectionDescription {
                name: (*name).to_string(),
            })
            .collect(),
        time: 0.000_012,
    }
}

/// `ListAliases`: every alias with the collection it points at.
pub fn aliases(pairs: &[(&str, &str)]) -> ListAliasesResponse {
    ListAliasesResponse {
        aliases: pairs
            .iter()
            .map(|(alias, collection)| AliasDescription {
                alias_name: (*alias).to_string(),
                collection_name: (*collection).to_string(),
            })
            .collect(),
        time: 0.000_009,
    }
}

pub fn operation_completed(operation_id: u64) -> PointsOperationResponse {
    PointsOperationResponse {
        result: Some(UpdateResult {
            operation_id: Some(operation_id),
            status: UpdateStatus::Completed as i32,
        }),
        time: 0.004_518,
        usage: None::<Usage>,
    }
}

fn scored(uuid: &str, id: &str, norm: f64, cosine: f32) -> ScoredPoint {
    let payload: HashMap<String, Value> = [
        ("id".to_string(), Value::from(id)),
        ("vector_norm".to_string(), Value::from(norm)),
    ]
    .into_iter()
    .collect();
    ScoredPoint {
        id: Some(PointId {
            point_id_options: Some(PointIdOptions::Uuid(uuid.to_string())),
        }),
        payload,
        score: cosine,
        version: 3,
        vectors: None,
        shard_key: None,
        order_value: None,
    }
}

/// A nearest-neighbour query over three stored resumes, best cosine first. The UUIDs are the
/// adapter's `point_uuid` of each id.
pub fn query_hits(uuids: [&str; 3]) -> QueryResponse {
    QueryResponse {
        result: vec![
            scored(uuids[0], "r1", 1.0, 0.98),
            scored(uuids[1], "r2", 4.0, 0.6),
            scored(uuids[2], "r3", 0.5, 0.2),
        ],
        time: 0.000_732,
        usage: None,
    }
}

pub fn count(count: u64) -> CountResponse {
    CountResponse {
        result: Some(CountResult { count }),
        time: 0.000_208,
        usage: None,
    }
}
