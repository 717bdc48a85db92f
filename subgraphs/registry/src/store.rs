//! The registry's tables (`registry_*`) and every query against them.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set, TransactionTrait,
};

macro_rules! entity {
    ($module:ident, $table:literal, { $($body:tt)* }) => {
        pub mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model { $($body)* }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

entity!(schema_version, "registry_schemas", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub subgraph: String,
    #[sea_orm(column_type = "Text")]
    pub sdl: String,
    pub sdl_sha256: String,
    /// The routing URL given when it was published or registered.
    pub url: Option<String>,
    pub published_by: String,
    pub published_at: DateTimeUtc,
    pub commit_sha: Option<String>,
    /// Free JSON from the publisher (CI run, branch, ...).
    #[sea_orm(column_type = "Text", nullable)]
    pub metadata: Option<String>,
});

entity!(subgraph, "registry_subgraphs", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// The schema version in the current composition.
    pub schema_id: String,
    /// Where routers send its requests when no live instance is registered.
    pub routing_url: Option<String>,
    /// Joined by registering instances: it leaves the composition when the last is removed.
    pub live: bool,
    pub updated_at: DateTimeUtc,
});

entity!(instance, "registry_instances", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub subgraph: String,
    pub url: String,
    /// The SDL it serves: routers are sent only to instances serving the composed one.
    pub sdl_sha256: String,
    pub registered_at: DateTimeUtc,
    pub last_heartbeat_at: DateTimeUtc,
});

entity!(supergraph, "registry_supergraphs", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i64,
    #[sea_orm(column_type = "Text")]
    pub sdl: String,
    pub sdl_sha256: String,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    /// JSON object: subgraph name → schema version id.
    #[sea_orm(column_type = "Text")]
    pub schema_ids: String,
});

entity!(router, "registry_routers", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub supergraph_version: i64,
    pub last_seen_at: DateTimeUtc,
});

entity!(operation, "registry_operations", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub signature: String,
    pub name: Option<String>,
    /// JSON array of schema coordinates (`Type.field`, `Type.field(arg)`, `Type`).
    #[sea_orm(column_type = "Text")]
    pub coordinates: String,
    pub first_seen_at: DateTimeUtc,
});

entity!(operation_usage, "registry_operation_usage", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub signature: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_name: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_version: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket_start: DateTimeUtc,
    pub count: i64,
});

/// One operation's use by one client within one hour, as a router reports it.
pub struct UsageRow<'a> {
    pub signature: &'a str,
    pub name: Option<&'a str>,
    pub coordinates: &'a [String],
    pub client_name: &'a str,
    pub client_version: &'a str,
    pub count: i64,
}

pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

#[derive(Clone)]
pub struct RegistryStore {
    db: DatabaseConnection,
}

impl RegistryStore {
    pub fn new(db: DatabaseConnection) -> Self {
        RegistryStore { db }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub async fn subgraphs(&self) -> Result<Vec<subgraph::Model>, DbErr> {
        subgraph::Entity::find()
            .order_by_asc(subgraph::Column::Name)
            .all(&self.db)
            .await
    }

    pub async fn subgraph(&self, name: &str) -> Result<Option<subgraph::Model>, DbErr> {
        subgraph::Entity::find_by_id(name.to_owned())
            .one(&self.db)
            .await
    }

    pub async fn schema(&self, id: &str) -> Result<Option<schema_version::Model>, DbErr> {
        schema_version::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await
    }

    pub async fn schemas_by_id(&self, ids: &[String]) -> Result<Vec<schema_version::Model>, DbErr> {
        schema_version::Entity::find()
            .filter(schema_version::Column::Id.is_in(ids.iter().cloned()))
            .all(&self.db)
            .await
    }

    /// A subgraph's published versions, newest first.
    pub async fn history(
        &self,
        subgraph: &str,
        limit: u64,
    ) -> Result<Vec<schema_version::Model>, DbErr> {
        schema_version::Entity::find()
            .filter(schema_version::Column::Subgraph.eq(subgraph))
            .order_by_desc(schema_version::Column::PublishedAt)
            .order_by_desc(schema_version::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
    }

    pub async fn latest_supergraph(&self) -> Result<Option<supergraph::Model>, DbErr> {
        supergraph::Entity::find()
            .order_by_desc(supergraph::Column::Version)
            .one(&self.db)
            .await
    }

    /// The newest supergraph's version, without its text.
    pub async fn latest_supergraph_version(&self) -> Result<Option<i64>, DbErr> {
        supergraph::Entity::find()
            .select_only()
            .column(supergraph::Column::Version)
            .order_by_desc(supergraph::Column::Version)
            .into_tuple::<i64>()
            .one(&self.db)
            .await
    }

    pub async fn supergraph(&self, version: i64) -> Result<Option<supergraph::Model>, DbErr> {
        supergraph::Entity::find_by_id(version).one(&self.db).await
    }

    pub async fn supergraphs(&self, limit: u64) -> Result<Vec<supergraph::Model>, DbErr> {
        supergraph::Entity::find()
            .order_by_desc(supergraph::Column::Version)
            .limit(limit)
            .all(&self.db)
            .await
    }

    pub async fn instances(&self) -> Result<Vec<instance::Model>, DbErr> {
        instance::Entity::find()
            .order_by_asc(instance::Column::Subgraph)
            .order_by_asc(instance::Column::RegisteredAt)
            .order_by_asc(instance::Column::Id)
            .all(&self.db)
            .await
    }

    pub async fn instance(&self, id: &str) -> Result<Option<instance::Model>, DbErr> {
        instance::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await
    }

    /// Stores a new composition: the schema version (when new), the subgraph set it was
    /// composed from, and the supergraph (when its text changed), in one transaction.
    /// `Ok(version)` is the supergraph now current.
    pub async fn commit_composition(
        &self,
        commit: Composition<'_>,
        now: DateTime<Utc>,
    ) -> Result<i64, DbErr> {
        let txn = self.db.begin().await?;
        if let Some(schema) = commit.new_schema {
            insert_schema(&txn, schema, now).await?;
        }
        for change in commit.subgraphs {
            match change {
                SubgraphChange::Upsert(model) => {
                    subgraph::Entity::insert(subgraph::ActiveModel {
                        name: Set(model.name.clone()),
                        schema_id: Set(model.schema_id.clone()),
                        routing_url: Set(model.routing_url.clone()),
                        live: Set(model.live),
                        updated_at: Set(now),
                    })
                    .on_conflict(
                        OnConflict::column(subgraph::Column::Name)
                            .update_columns([
                                subgraph::Column::SchemaId,
                                subgraph::Column::RoutingUrl,
                                subgraph::Column::Live,
                                subgraph::Column::UpdatedAt,
                            ])
                            .to_owned(),
                    )
                    .exec(&txn)
                    .await?;
                }
                SubgraphChange::Remove(name) => {
                    subgraph::Entity::delete_by_id(name.to_owned())
                        .exec(&txn)
                        .await?;
                }
            }
        }
        let latest = supergraph::Entity::find()
            .order_by_desc(supergraph::Column::Version)
            .one(&txn)
            .await?;
        let sha = sha256_hex(commit.supergraph_sdl);
        let version = match latest {
            Some(latest) if latest.sdl_sha256 == sha => latest.version,
            latest => {
                let version = latest.map_or(1, |l| l.version + 1);
                supergraph::ActiveModel {
                    version: Set(version),
                    sdl: Set(commit.supergraph_sdl.to_owned()),
                    sdl_sha256: Set(sha),
                    created_at: Set(now),
                    created_by: Set(commit.actor.to_owned()),
                    reason: Set(commit.reason.to_owned()),
                    schema_ids: Set(commit.schema_ids.to_string()),
                }
                .insert(&txn)
                .await?;
                version
            }
        };
        txn.commit().await?;
        Ok(version)
    }

    /// Adds or refreshes an instance (same id: a restarted process keeps its row).
    pub async fn upsert_instance(
        &self,
        id: &str,
        subgraph: &str,
        url: &str,
        sdl: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        instance::Entity::insert(instance::ActiveModel {
            id: Set(id.to_owned()),
            subgraph: Set(subgraph.to_owned()),
            url: Set(url.to_owned()),
            sdl_sha256: Set(sha256_hex(sdl)),
            registered_at: Set(now),
            last_heartbeat_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(instance::Column::Id)
                .update_columns([
                    instance::Column::Subgraph,
                    instance::Column::Url,
                    instance::Column::SdlSha256,
                    instance::Column::LastHeartbeatAt,
                ])
                .to_owned(),
        )
        .exec(&self.db)
        .await?;
        Ok(())
    }

    /// `false` when the instance is unknown (removed: it must register again).
    pub async fn heartbeat(&self, id: &str, now: DateTime<Utc>) -> Result<bool, DbErr> {
        let result = instance::Entity::update_many()
            .col_expr(instance::Column::LastHeartbeatAt, Expr::value(now))
            .filter(instance::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected > 0)
    }

    pub async fn remove_instance(&self, id: &str) -> Result<bool, DbErr> {
        let result = instance::Entity::delete_by_id(id.to_owned())
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected > 0)
    }

    /// Removes the instances silent since before `cutoff`; returns those removed.
    pub async fn remove_silent(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<instance::Model>, DbErr> {
        let silent = instance::Entity::find()
            .filter(instance::Column::LastHeartbeatAt.lt(cutoff))
            .all(&self.db)
            .await?;
        let mut removed = Vec::new();
        for instance in silent {
            // Only if still silent: a heartbeat may have arrived since the read.
            let result = instance::Entity::delete_many()
                .filter(instance::Column::Id.eq(instance.id.clone()))
                .filter(instance::Column::LastHeartbeatAt.lt(cutoff))
                .exec(&self.db)
                .await?;
            if result.rows_affected > 0 {
                removed.push(instance);
            }
        }
        Ok(removed)
    }

    pub async fn record_router(
        &self,
        id: &str,
        version: i64,
        now: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        router::Entity::insert(router::ActiveModel {
            id: Set(id.to_owned()),
            supergraph_version: Set(version),
            last_seen_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(router::Column::Id)
                .update_columns([
                    router::Column::SupergraphVersion,
                    router::Column::LastSeenAt,
                ])
                .to_owned(),
        )
        .exec(&self.db)
        .await?;
        Ok(())
    }

    pub async fn routers(&self) -> Result<Vec<router::Model>, DbErr> {
        router::Entity::find()
            .order_by_desc(router::Column::LastSeenAt)
            .all(&self.db)
            .await
    }

    /// Adds reported usage to its hour's counts (operations are stored once).
    pub async fn add_usage(
        &self,
        rows: &[UsageRow<'_>],
        bucket: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        let txn = self.db.begin().await?;
        for row in rows {
            operation::Entity::insert(operation::ActiveModel {
                signature: Set(row.signature.to_owned()),
                name: Set(row.name.map(str::to_owned)),
                coordinates: Set(serde_json::to_string(row.coordinates).unwrap_or_default()),
                first_seen_at: Set(bucket),
            })
            .on_conflict_do_nothing_on([operation::Column::Signature])
            .exec(&txn)
            .await?;
            operation_usage::Entity::insert(operation_usage::ActiveModel {
                signature: Set(row.signature.to_owned()),
                client_name: Set(row.client_name.to_owned()),
                client_version: Set(row.client_version.to_owned()),
                bucket_start: Set(bucket),
                count: Set(row.count),
            })
            .on_conflict(
                OnConflict::columns([
                    operation_usage::Column::Signature,
                    operation_usage::Column::ClientName,
                    operation_usage::Column::ClientVersion,
                    operation_usage::Column::BucketStart,
                ])
                .value(
                    operation_usage::Column::Count,
                    Expr::col((operation_usage::Entity, operation_usage::Column::Count))
                        .add(row.count),
                )
                .to_owned(),
            )
            .exec(&txn)
            .await?;
        }
        txn.commit().await
    }

    /// Forgets usage counted before `usage_before` (and operations no longer counted) and
    /// routers not seen since `routers_before`.
    pub async fn prune(
        &self,
        usage_before: DateTime<Utc>,
        routers_before: DateTime<Utc>,
    ) -> Result<u64, DbErr> {
        let usage = operation_usage::Entity::delete_many()
            .filter(operation_usage::Column::BucketStart.lt(usage_before))
            .exec(&self.db)
            .await?
            .rows_affected;
        if usage > 0 {
            let still_counted = operation_usage::Entity::find()
                .select_only()
                .column(operation_usage::Column::Signature)
                .distinct()
                .into_query();
            operation::Entity::delete_many()
                .filter(operation::Column::Signature.not_in_subquery(still_counted))
                .exec(&self.db)
                .await?;
        }
        let routers = router::Entity::delete_many()
            .filter(router::Column::LastSeenAt.lt(routers_before))
            .exec(&self.db)
            .await?
            .rows_affected;
        Ok(usage + routers)
    }

    /// Operations used since `since`, with their clients and counts.
    pub async fn used_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(operation::Model, Vec<operation_usage::Model>)>, DbErr> {
        let usage = operation_usage::Entity::find()
            .filter(operation_usage::Column::BucketStart.gte(since))
            .all(&self.db)
            .await?;
        let mut by_signature: std::collections::BTreeMap<String, Vec<operation_usage::Model>> =
            std::collections::BTreeMap::new();
        for row in usage {
            by_signature
                .entry(row.signature.clone())
                .or_default()
                .push(row);
        }
        let signatures: Vec<String> = by_signature.keys().cloned().collect();
        let mut used = Vec::with_capacity(signatures.len());
        // In chunks: both databases bound the parameters of one statement.
        for chunk in signatures.chunks(500) {
            let operations = operation::Entity::find()
                .filter(operation::Column::Signature.is_in(chunk.iter().cloned()))
                .all(&self.db)
                .await?;
            for operation in operations {
                let rows = by_signature
                    .remove(&operation.signature)
                    .unwrap_or_default();
                used.push((operation, rows));
            }
        }
        Ok(used)
    }
}

async fn insert_schema<C: ConnectionTrait>(
    db: &C,
    schema: &NewSchemaRow,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    schema_version::ActiveModel {
        id: Set(schema.id.clone()),
        subgraph: Set(schema.subgraph.clone()),
        sdl_sha256: Set(sha256_hex(&schema.sdl)),
        sdl: Set(schema.sdl.clone()),
        url: Set(schema.url.clone()),
        published_by: Set(schema.published_by.clone()),
        published_at: Set(now),
        commit_sha: Set(schema.commit_sha.clone()),
        metadata: Set(schema.metadata.clone()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A schema version about to be stored, with its id already chosen.
#[derive(Clone, Debug)]
pub struct NewSchemaRow {
    pub id: String,
    pub subgraph: String,
    pub sdl: String,
    pub url: Option<String>,
    pub published_by: String,
    pub commit_sha: Option<String>,
    pub metadata: Option<String>,
}

pub enum SubgraphChange<'a> {
    Upsert(&'a subgraph::Model),
    Remove(&'a str),
}

/// What one successful composition writes.
pub struct Composition<'a> {
    pub new_schema: Option<&'a NewSchemaRow>,
    pub subgraphs: Vec<SubgraphChange<'a>>,
    pub supergraph_sdl: &'a str,
    pub schema_ids: serde_json::Value,
    pub actor: &'a str,
    pub reason: &'a str,
}
