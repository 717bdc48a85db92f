//! `QdrantVectorIndex` against an in-process gRPC server: tonic serving qdrant-client's own
//! `Points` and `Collections` service stubs on 127.0.0.1:0, answering with the recorded messages
//! in `tests/recorded/qdrant/responses.rs` and recording every request, so the tests assert both
//! what the adapter sends over the wire (filters, limits, vectors, ids, payloads) and how it reads
//! the answers.

#[path = "recorded/qdrant/responses.rs"]
mod responses;

use std::sync::{Arc, Mutex};

use ::qdrant_client::qdrant::collections_server::{Collections, CollectionsServer};
use ::qdrant_client::qdrant::condition::ConditionOneOf;
use ::qdrant_client::qdrant::r#match::MatchValue;
use ::qdrant_client::qdrant::points_selector::PointsSelectorOneOf;
use ::qdrant_client::qdrant::points_server::{Points, PointsServer};
use ::qdrant_client::qdrant::vectors::VectorsOptions;
use ::qdrant_client::qdrant::*;
use looma_search_engine::{
    Collection, DocumentFields, EngineError, Filters, Metric, VectorIndex, VectorPoint, VectorQuery,
};
use looma_search_remote::{QdrantVectorIndex, point_uuid};
use tonic::{Request, Response, Status};

/// What the fake server received, in order.
#[derive(Debug, Clone)]
enum Call {
    CollectionExists(CollectionExistsRequest),
    CreateCollection(CreateCollection),
    CreateFieldIndex(CreateFieldIndexCollection),
    Upsert(UpsertPoints),
    Delete(DeletePoints),
    Query(QueryPoints),
    Count(CountPoints),
    ListCollections,
    ListAliases,
    DeleteCollection(DeleteCollection),
    UpdateAliases(ChangeAliases),
}

#[derive(Clone)]
struct Replay {
    calls: Arc<Mutex<Vec<Call>>>,
    collection_exists: bool,
    /// When set, every points call fails with this status (collection calls still succeed).
    points_failure: Option<(tonic::Code, &'static str)>,
    /// What `ListCollections` and `ListAliases` answer.
    collections: Vec<&'static str>,
    aliases: Vec<(&'static str, &'static str)>,
}

impl Replay {
    fn record(&self, call: Call) {
        self.calls.lock().expect("calls").push(call);
    }

    fn fail_points(&self) -> Result<(), Status> {
        match self.points_failure {
            Some((code, message)) => Err(Status::new(code, message)),
            None => Ok(()),
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls").clone()
    }
}

/// Implements a generated service trait: the listed handlers, and `Unimplemented` for the rest
/// (which the adapter must never call).
macro_rules! replay_service {
    (
        impl $service:ident for Replay {
            $($handled:item)*
        }
        unimplemented { $($name:ident($request:ident) -> $response:ident;)* }
    ) => {
        #[tonic::async_trait]
        impl $service for Replay {
            $($handled)*
            $(
                async fn $name(
                    &self,
                    _request: Request<$request>,
                ) -> Result<Response<$response>, Status> {
                    Err(Status::unimplemented(stringify!($name)))
                }
            )*
        }
    };
}

replay_service! {
    impl Collections for Replay {
        async fn collection_exists(
            &self,
            request: Request<CollectionExistsRequest>,
        ) -> Result<Response<CollectionExistsResponse>, Status> {
            self.record(Call::CollectionExists(request.into_inner()));
            Ok(Response::new(responses::collection_exists(self.collection_exists)))
        }
        async fn create(
            &self,
            request: Request<CreateCollection>,
        ) -> Result<Response<CollectionOperationResponse>, Status> {
            self.record(Call::CreateCollection(request.into_inner()));
            Ok(Response::new(responses::collection_created()))
        }
        async fn list(
            &self,
            _request: Request<ListCollectionsRequest>,
        ) -> Result<Response<ListCollectionsResponse>, Status> {
            self.record(Call::ListCollections);
            Ok(Response::new(responses::collections(&self.collections)))
        }
        async fn list_aliases(
            &self,
            _request: Request<ListAliasesRequest>,
        ) -> Result<Response<ListAliasesResponse>, Status> {
            self.record(Call::ListAliases);
            Ok(Response::new(responses::aliases(&self.aliases)))
        }
        async fn delete(
            &self,
            request: Request<DeleteCollection>,
        ) -> Result<Response<CollectionOperationResponse>, Status> {
            self.record(Call::DeleteCollection(request.into_inner()));
            Ok(Response::new(responses::collection_created()))
        }
        async fn update_aliases(
            &self,
            request: Request<ChangeAliases>,
        ) -> Result<Response<CollectionOperationResponse>, Status> {
            self.record(Call::UpdateAliases(request.into_inner()));
            Ok(Response::new(responses::collection_created()))
        }
    }
    unimplemented {
        get(GetCollectionInfoRequest) -> GetCollectionInfoResponse;
        update(UpdateCollection) -> CollectionOperationResponse;
        list_collection_aliases(ListCollectionAliasesRequest) -> ListAliasesResponse;
        collection_cluster_info(CollectionClusterInfoRequest) -> CollectionClusterInfoResponse;
        update_collection_cluster_setup(UpdateCollectionClusterSetupRequest) -> UpdateCollectionClusterSetupResponse;
        create_shard_key(CreateShardKeyRequest) -> CreateShardKeyResponse;
        delete_shard_key(DeleteShardKeyRequest) -> DeleteShardKeyResponse;
        list_shard_keys(ListShardKeysRequest) -> ListShardKeysResponse;
    }
}

replay_service! {
    impl Points for Replay {
        async fn create_field_index(
            &self,
            request: Request<CreateFieldIndexCollection>,
        ) -> Result<Response<PointsOperationResponse>, Status> {
            self.fail_points()?;
            self.record(Call::CreateFieldIndex(request.into_inner()));
            Ok(Response::new(responses::operation_completed(1)))
        }
        async fn upsert(
            &self,
            request: Request<UpsertPoints>,
        ) -> Result<Response<PointsOperationResponse>, Status> {
            self.fail_points()?;
            self.record(Call::Upsert(request.into_inner()));
            Ok(Response::new(responses::operation_completed(17)))
        }
        async fn delete(
            &self,
            request: Request<DeletePoints>,
        ) -> Result<Response<PointsOperationResponse>, Status> {
            self.fail_points()?;
            self.record(Call::Delete(request.into_inner()));
            Ok(Response::new(responses::operation_completed(18)))
        }
        async fn query(
            &self,
            request: Request<QueryPoints>,
        ) -> Result<Response<QueryResponse>, Status> {
            self.fail_points()?;
            self.record(Call::Query(request.into_inner()));
            let uuids = ["r1", "r2", "r3"].map(|id| point_uuid(id).to_string());
            Ok(Response::new(responses::query_hits(uuids.each_ref().map(String::as_str))))
        }
        async fn count(
            &self,
            request: Request<CountPoints>,
        ) -> Result<Response<CountResponse>, Status> {
            self.fail_points()?;
            self.record(Call::Count(request.into_inner()));
            Ok(Response::new(responses::count(3)))
        }
    }
    unimplemented {
        get(GetPoints) -> GetResponse;
        update_vectors(UpdatePointVectors) -> PointsOperationResponse;
        delete_vectors(DeletePointVectors) -> PointsOperationResponse;
        set_payload(SetPayloadPoints) -> PointsOperationResponse;
        overwrite_payload(SetPayloadPoints) -> PointsOperationResponse;
        delete_payload(DeletePayloadPoints) -> PointsOperationResponse;
        clear_payload(ClearPayloadPoints) -> PointsOperationResponse;
        delete_field_index(DeleteFieldIndexCollection) -> PointsOperationResponse;
        create_vector_name(CreateVectorNameRequest) -> PointsOperationResponse;
        delete_vector_name(DeleteVectorNameRequest) -> PointsOperationResponse;
        search(SearchPoints) -> SearchResponse;
        search_batch(SearchBatchPoints) -> SearchBatchResponse;
        search_groups(SearchPointGroups) -> SearchGroupsResponse;
        scroll(ScrollPoints) -> ScrollResponse;
        recommend(RecommendPoints) -> RecommendResponse;
        recommend_batch(RecommendBatchPoints) -> RecommendBatchResponse;
        recommend_groups(RecommendPointGroups) -> RecommendGroupsResponse;
        discover(DiscoverPoints) -> DiscoverResponse;
        discover_batch(DiscoverBatchPoints) -> DiscoverBatchResponse;
        update_batch(UpdateBatchPoints) -> UpdateBatchResponse;
        query_batch(QueryBatchPoints) -> QueryBatchResponse;
        query_groups(QueryPointGroups) -> QueryGroupsResponse;
        facet(FacetCounts) -> FacetResponse;
        search_matrix_pairs(SearchMatrixPoints) -> SearchMatrixPairsResponse;
        search_matrix_offsets(SearchMatrixPoints) -> SearchMatrixOffsetsResponse;
    }
}

/// Starts the replay server on an ephemeral port and connects the adapter to it.
async fn start(replay: Replay, dimension: usize) -> QdrantVectorIndex {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(CollectionsServer::new(replay.clone()))
            .add_service(PointsServer::new(replay))
            .serve_with_incoming(incoming),
    );
    QdrantVectorIndex::connect(&format!("http://{address}"), "looma-test", dimension)
        .expect("connect")
}

fn replay(collection_exists: bool) -> Replay {
    Replay {
        calls: Arc::default(),
        collection_exists,
        points_failure: None,
        collections: Vec::new(),
        aliases: Vec::new(),
    }
}

fn point(id: &str, vector: Vec<f32>, fields: DocumentFields) -> VectorPoint {
    VectorPoint {
        id: id.into(),
        vector,
        fields,
    }
}

fn uuid_of(id: &PointId) -> &str {
    match &id.point_id_options {
        Some(point_id::PointIdOptions::Uuid(uuid)) => uuid,
        other => panic!("expected a UUID point id, got {other:?}"),
    }
}

fn string_of(value: &Value) -> Option<&str> {
    match &value.kind {
        Some(value::Kind::StringValue(s)) => Some(s),
        _ => None,
    }
}

#[tokio::test]
async fn first_use_creates_a_cosine_collection_with_payload_indexes_then_upserts() {
    let server = replay(false);
    let index = start(server.clone(), 3).await;
    let fields = DocumentFields {
        skills: vec!["Rust".into(), "Go".into()],
        city: Some("上海".into()),
        years: Some(6.0),
        ..DocumentFields::default()
    };
    index
        .upsert(
            Collection::Resumes,
            &[point("r1", vec![3.0, 4.0, 0.0], fields)],
        )
        .await
        .expect("upsert");
    index
        .upsert(
            Collection::Resumes,
            &[point("r2", vec![0.0, 0.0, 1.0], DocumentFields::default())],
        )
        .await
        .expect("second upsert");

    let calls = server.calls();
    let Call::CollectionExists(exists) = &calls[0] else {
        panic!("first call {:?}", calls[0]);
    };
    assert_eq!(exists.collection_name, "looma-test-resumes");
    let Call::CreateCollection(create) = &calls[1] else {
        panic!("second call {:?}", calls[1]);
    };
    assert_eq!(create.collection_name, "looma-test-resumes");
    let Some(vectors_config::Config::Params(params)) = create
        .vectors_config
        .as_ref()
        .and_then(|c| c.config.as_ref())
    else {
        panic!("unnamed vector params expected: {create:?}");
    };
    assert_eq!(params.size, 3);
    assert_eq!(params.distance, Distance::Cosine as i32);

    let indexed: Vec<(&str, Option<i32>)> = calls
        .iter()
        .filter_map(|c| match c {
            Call::CreateFieldIndex(index) => Some((index.field_name.as_str(), index.field_type)),
            _ => None,
        })
        .collect();
    let keyword = Some(FieldType::Keyword as i32);
    let float = Some(FieldType::Float as i32);
    assert_eq!(
        indexed,
        [
            ("id", keyword),
            ("skills", keyword),
            ("city", keyword),
            ("degree", keyword),
            ("status", keyword),
            ("job_family", keyword),
            ("keywords", keyword),
            ("years", float),
            ("salary_min", float),
            ("salary_max", float),
        ]
    );

    let upserts: Vec<&UpsertPoints> = calls
        .iter()
        .filter_map(|c| match c {
            Call::Upsert(u) => Some(u),
            _ => None,
        })
        .collect();
    assert_eq!(upserts.len(), 2, "the collection is created once");
    let existence_checks = calls
        .iter()
        .filter(|c| matches!(c, Call::CollectionExists(_)))
        .count();
    assert_eq!(existence_checks, 1);
    let upsert = upserts[0];
    assert_eq!(upsert.wait, Some(true));
    let stored = &upsert.points[0];
    assert_eq!(
        uuid_of(stored.id.as_ref().expect("id")),
        point_uuid("r1").to_string()
    );
    let Some(VectorsOptions::Vector(vector)) = stored
        .vectors
        .as_ref()
        .and_then(|v| v.vectors_options.clone())
    else {
        panic!("dense vector expected");
    };
    assert_eq!(
        vector.vector,
        Some(vector::Vector::Dense(DenseVector {
            data: vec![3.0, 4.0, 0.0]
        }))
    );
    assert_eq!(stored.payload.get("id").and_then(string_of), Some("r1"));
    assert_eq!(stored.payload.get("city").and_then(string_of), Some("上海"));
    assert_eq!(
        stored
            .payload
            .get("vector_norm")
            .and_then(|v| v.kind.clone()),
        Some(value::Kind::DoubleValue(5.0))
    );
    assert!(
        !stored.payload.contains_key("degree"),
        "absent fields stay absent"
    );
}

#[tokio::test]
async fn an_existing_collection_is_not_recreated() {
    let server = replay(true);
    let index = start(server.clone(), 3).await;
    assert_eq!(index.count(Collection::Jobs).await.expect("count"), 3);
    let calls = server.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        matches!(&calls[1], Call::Count(c) if c.collection_name == "looma-test-jobs" && c.exact == Some(true))
    );
}

#[tokio::test]
async fn search_sends_the_filter_and_vector_and_reads_string_ids_back() {
    let server = replay(true);
    let index = start(server.clone(), 2).await;
    let query = VectorQuery {
        collection: Collection::Resumes,
        vector: vec![0.6, 0.8],
        top_k: 2,
        filters: Filters {
            skills_any: vec!["Rust".into(), "Go".into()],
            statuses: vec!["INDEXED".into()],
            max_years: Some(10.0),
            ..Filters::default()
        },
        metric: Metric::Cosine,
    };
    let hits = index.search(&query).await.expect("search");
    assert_eq!(
        hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
        ["r1", "r2"]
    );
    assert!((hits[0].score - 0.98).abs() < 1e-6);
    assert_eq!(hits[0].distance, None);

    let calls = server.calls();
    let Some(Call::Query(sent)) = calls.last() else {
        panic!("query expected: {calls:?}");
    };
    assert_eq!(sent.collection_name, "looma-test-resumes");
    assert_eq!(sent.limit, Some(2));
    let nearest = match sent.query.as_ref().and_then(|q| q.variant.clone()) {
        Some(query::Variant::Nearest(input)) => input,
        other => panic!("nearest query expected, got {other:?}"),
    };
    assert_eq!(
        nearest.variant,
        Some(vector_input::Variant::Dense(DenseVector {
            data: vec![0.6, 0.8]
        }))
    );
    let filter = sent.filter.as_ref().expect("filter");
    let conditions: Vec<(&str, Option<&MatchValue>, Option<Range>)> = filter
        .must
        .iter()
        .map(|c| match &c.condition_one_of {
            Some(ConditionOneOf::Field(f)) => (
                f.key.as_str(),
                f.r#match.as_ref().and_then(|m| m.match_value.as_ref()),
                f.range,
            ),
            other => panic!("field condition expected, got {other:?}"),
        })
        .collect();
    assert_eq!(conditions.len(), 3);
    assert!(
        matches!(conditions[0], ("skills", Some(MatchValue::Keywords(k)), None) if k.strings == ["Rust", "Go"])
    );
    assert!(
        matches!(conditions[1], ("status", Some(MatchValue::Keywords(k)), None) if k.strings == ["INDEXED"])
    );
    assert_eq!(conditions[2].0, "years");
    assert_eq!(conditions[2].2.and_then(|r| r.lte), Some(10.0));
    let Some(with_payload_selector::SelectorOptions::Include(include)) = sent
        .with_payload
        .as_ref()
        .and_then(|w| w.selector_options.clone())
    else {
        panic!("payload selector expected");
    };
    assert_eq!(include.fields, ["id", "vector_norm"]);
}

#[tokio::test]
async fn dot_and_euclidean_oversample_and_rerank() {
    let server = replay(true);
    let index = start(server.clone(), 2).await;
    let query = |metric| VectorQuery {
        collection: Collection::Resumes,
        vector: vec![0.0, 2.0],
        top_k: 2,
        filters: Filters::default(),
        metric,
    };
    // Recorded candidates: r1 (norm 1, cos 0.98), r2 (norm 4, cos 0.6), r3 (norm 0.5, cos 0.2).
    let dot = index.search(&query(Metric::Dot)).await.expect("dot");
    assert_eq!(
        dot.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
        ["r2", "r1"]
    );
    assert!((dot[0].score - 4.8).abs() < 1e-5, "{dot:?}");
    let euclid = index
        .search(&query(Metric::Euclidean))
        .await
        .expect("euclid");
    // |p - q|² = |p|² + |q|² − 2·dot: r1 → 1 + 4 − 3.92 = 1.08
    assert_eq!(euclid[0].id, "r1");
    let distance = euclid[0].distance.expect("distance");
    assert!((distance - 1.08f32.sqrt()).abs() < 1e-5);
    assert!((euclid[0].score - 1.0 / (1.0 + distance)).abs() < 1e-6);
    let limits: Vec<Option<u64>> = server
        .calls()
        .iter()
        .filter_map(|c| match c {
            Call::Query(q) => Some(q.limit),
            _ => None,
        })
        .collect();
    assert_eq!(limits, [Some(40), Some(40)]);
}

#[tokio::test]
async fn delete_and_clear_address_points_by_uuid_and_by_filter() {
    let server = replay(true);
    let index = start(server.clone(), 2).await;
    index
        .delete(Collection::Jobs, &["j1".into(), "j2".into()])
        .await
        .expect("delete");
    index.clear(Collection::Jobs).await.expect("clear");
    let deletes: Vec<DeletePoints> = server
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Delete(d) => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(deletes.len(), 2);
    let selector = |d: &DeletePoints| {
        d.points
            .as_ref()
            .and_then(|p| p.points_selector_one_of.clone())
    };
    let Some(PointsSelectorOneOf::Points(list)) = selector(&deletes[0]) else {
        panic!("id list expected");
    };
    let uuids: Vec<&str> = list.ids.iter().map(uuid_of).collect();
    assert_eq!(
        uuids,
        [point_uuid("j1").to_string(), point_uuid("j2").to_string()]
    );
    let Some(PointsSelectorOneOf::Filter(everything)) = selector(&deletes[1]) else {
        panic!("filter expected");
    };
    assert!(matches!(
        &everything.must_not[0].condition_one_of,
        Some(ConditionOneOf::IsEmpty(empty)) if empty.key == "id"
    ));
}

#[tokio::test]
async fn wrong_dimensions_fail_before_any_request() {
    let server = replay(true);
    let index = start(server.clone(), 3).await;
    let query = VectorQuery {
        collection: Collection::Resumes,
        vector: vec![1.0, 0.0],
        top_k: 5,
        filters: Filters::default(),
        metric: Metric::Cosine,
    };
    assert!(matches!(
        index.search(&query).await,
        Err(EngineError::DimensionMismatch {
            expected: 3,
            got: 2
        })
    ));
    let bad = point("r1", vec![1.0; 4], DocumentFields::default());
    assert!(matches!(
        index.upsert(Collection::Resumes, &[bad]).await,
        Err(EngineError::DimensionMismatch {
            expected: 3,
            got: 4
        })
    ));
    assert!(server.calls().is_empty());
}

#[tokio::test]
async fn server_statuses_map_to_engine_errors() {
    let mut server = replay(true);
    server.points_failure = Some((tonic::Code::Unavailable, "shard is not ready"));
    let index = start(server, 2).await;
    assert!(matches!(
        index.count(Collection::Resumes).await,
        Err(EngineError::Unavailable(_))
    ));

    let mut server = replay(true);
    server.points_failure = Some((
        tonic::Code::InvalidArgument,
        "Wrong input: Vector dimension error: expected dim: 2, got 3",
    ));
    let index = start(server, 2).await;
    let query = VectorQuery {
        collection: Collection::Resumes,
        vector: vec![1.0, 0.0],
        top_k: 1,
        filters: Filters::default(),
        metric: Metric::Cosine,
    };
    assert!(matches!(
        index.search(&query).await,
        Err(EngineError::InvalidQuery(_))
    ));
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    let index = QdrantVectorIndex::connect(&format!("http://127.0.0.1:{port}"), "looma-test", 2)
        .expect("connect is lazy");
    let result = index.count(Collection::Resumes).await;
    assert!(
        matches!(result, Err(EngineError::Unavailable(_))),
        "{result:?}"
    );
}

fn alias_actions(change: &ChangeAliases) -> Vec<String> {
    change
        .actions
        .iter()
        .map(|operation| match &operation.action {
            Some(alias_operations::Action::CreateAlias(create)) => {
                format!("create {} -> {}", create.alias_name, create.collection_name)
            }
            Some(alias_operations::Action::DeleteAlias(delete)) => {
                format!("delete {}", delete.alias_name)
            }
            other => panic!("unexpected alias action {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn a_reindex_fills_a_new_version_and_moves_the_alias_in_one_request() {
    let mut server = replay(true);
    server.collections = vec![
        "looma-test-resumes_v1",
        "looma-test-resumes_v2",
        "looma-test-jobs_v7",
    ];
    server.aliases = vec![("looma-test-resumes", "looma-test-resumes_v1")];
    let index = start(server.clone(), 2).await;

    let version = index
        .begin_version(Collection::Resumes)
        .await
        .expect("begin");
    assert_eq!(version, 3, "above every version present");
    index
        .upsert_version(
            Collection::Resumes,
            3,
            &[point("r1", vec![1.0, 0.0], DocumentFields::default())],
        )
        .await
        .expect("staged upsert");
    index
        .commit_version(Collection::Resumes, 3)
        .await
        .expect("commit");

    let calls = server.calls();
    let deleted: Vec<&str> = calls
        .iter()
        .filter_map(|c| match c {
            Call::DeleteCollection(d) => Some(d.collection_name.as_str()),
            _ => None,
        })
        .collect();
    // The unfinished v2 at begin; the retired v1 after the swap. Never another collection's.
    assert_eq!(deleted, ["looma-test-resumes_v2", "looma-test-resumes_v1"]);
    let created: Vec<&str> = calls
        .iter()
        .filter_map(|c| match c {
            Call::CreateCollection(c) => Some(c.collection_name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(created, ["looma-test-resumes_v3"]);
    let upsert = calls
        .iter()
        .find_map(|c| match c {
            Call::Upsert(u) => Some(u),
            _ => None,
        })
        .expect("an upsert");
    assert_eq!(
        upsert.collection_name, "looma-test-resumes_v3",
        "staged, not live"
    );
    let changes: Vec<&ChangeAliases> = calls
        .iter()
        .filter_map(|c| match c {
            Call::UpdateAliases(change) => Some(change),
            _ => None,
        })
        .collect();
    assert_eq!(changes.len(), 1, "one atomic alias request");
    assert_eq!(
        alias_actions(changes[0]),
        [
            "delete looma-test-resumes",
            "create looma-test-resumes -> looma-test-resumes_v3"
        ]
    );
    // The swap happens after the retired version stops being needed by nothing but the alias.
    let swap_at = calls
        .iter()
        .position(|c| matches!(c, Call::UpdateAliases(_)))
        .unwrap();
    let retire_at = calls
        .iter()
        .rposition(|c| matches!(c, Call::DeleteCollection(_)))
        .unwrap();
    assert!(
        swap_at < retire_at,
        "old version deleted only after the swap"
    );
}

#[tokio::test]
async fn the_first_reindex_of_a_collection_from_before_versions_replaces_it_by_the_alias() {
    let server = replay(true);
    let index = start(server.clone(), 2).await;
    assert_eq!(
        index.begin_version(Collection::Jobs).await.expect("begin"),
        1
    );
    index
        .commit_version(Collection::Jobs, 1)
        .await
        .expect("commit");
    let calls = server.calls();
    let deleted: Vec<&str> = calls
        .iter()
        .filter_map(|c| match c {
            Call::DeleteCollection(d) => Some(d.collection_name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        deleted,
        ["looma-test-jobs"],
        "the concrete collection gives way"
    );
    let change = calls
        .iter()
        .find_map(|c| match c {
            Call::UpdateAliases(change) => Some(change),
            _ => None,
        })
        .expect("alias created");
    assert_eq!(
        alias_actions(change),
        ["create looma-test-jobs -> looma-test-jobs_v1"]
    );

    // Aborting drops the staged collection; committing an unknown version is refused.
    let server = replay(false);
    let index = start(server.clone(), 2).await;
    index
        .abort_version(Collection::Jobs, 4)
        .await
        .expect("abort");
    assert!(matches!(
        server.calls().last(),
        Some(Call::DeleteCollection(d)) if d.collection_name == "looma-test-jobs_v4"
    ));
    let error = index
        .commit_version(Collection::Jobs, 4)
        .await
        .expect_err("no such version");
    assert!(matches!(error, EngineError::InvalidQuery(_)), "{error:?}");
}
