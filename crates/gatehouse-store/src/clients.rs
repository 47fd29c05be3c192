//! OAuth clients (O3). Lists are stored as JSON text; every query is scoped by tenant (AC1).

use diesel::prelude::*;
use gatehouse_core::StoreError;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::jose::SigningAlg;
use gatehouse_core::model::Client;
use gatehouse_core::store::ClientStore;
use gatehouse_types::{ClientType, GrantType};

use crate::Store;
use crate::audit::append_in;
use crate::error::{map_err, unavailable};
use crate::schema::clients;

#[derive(Queryable, Insertable, AsChangeset, Clone, PartialEq, Eq)]
#[diesel(table_name = clients, treat_none_as_null = true)]
pub(crate) struct Row {
    client_id: String,
    tenant_id: String,
    name: String,
    client_type: String,
    secret_hash: Option<Vec<u8>>,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    grant_types: String,
    scope: String,
    first_party: bool,
    created_at: i64,
    settings: String,
}

/// The `settings` JSON column.
#[derive(serde::Serialize, serde::Deserialize)]
struct Settings {
    audiences: Vec<String>,
    access_token_ttl: i64,
    refresh_token_ttl: i64,
    signing_alg: String,
    web_origins: Vec<String>,
    backchannel_logout_uri: Option<String>,
    #[serde(default)]
    jwks: Option<serde_json::Value>,
    #[serde(default)]
    roles: Vec<String>,
}

fn to_json(list: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(list).map_err(unavailable)
}

fn from_json(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(unavailable)
}

impl Row {
    pub(crate) fn from_client(c: &Client) -> Result<Self, StoreError> {
        Ok(Self {
            client_id: c.client_id.clone(),
            tenant_id: c.tenant_id.clone(),
            name: c.name.clone(),
            client_type: c.client_type.as_str().to_owned(),
            secret_hash: c.secret_hash.clone(),
            redirect_uris: to_json(&c.redirect_uris)?,
            post_logout_redirect_uris: to_json(&c.post_logout_redirect_uris)?,
            grant_types: c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(" "),
            scope: c.scope.clone(),
            first_party: c.first_party,
            created_at: c.created_at,
            settings: serde_json::to_string(&Settings {
                audiences: c.audiences.clone(),
                access_token_ttl: c.access_token_ttl,
                refresh_token_ttl: c.refresh_token_ttl,
                signing_alg: c.signing_alg.as_str().to_owned(),
                web_origins: c.web_origins.clone(),
                backchannel_logout_uri: c.backchannel_logout_uri.clone(),
                jwks: c.jwks.clone(),
                roles: c.roles.clone(),
            })
            .map_err(unavailable)?,
        })
    }

    /// Rows are re-validated on the way out: a row edited into an unknown type or grant fails
    /// closed rather than granting something.
    pub(crate) fn into_client(self) -> Result<Client, StoreError> {
        let client_type = ClientType::parse(&self.client_type).map_err(unavailable)?;
        let grant_types = self
            .grant_types
            .split_whitespace()
            .map(GrantType::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(unavailable)?;
        let settings: Settings = serde_json::from_str(&self.settings).map_err(unavailable)?;
        Ok(Client {
            client_id: self.client_id,
            tenant_id: self.tenant_id,
            name: self.name,
            client_type,
            secret_hash: self.secret_hash,
            redirect_uris: from_json(&self.redirect_uris)?,
            post_logout_redirect_uris: from_json(&self.post_logout_redirect_uris)?,
            grant_types,
            scope: self.scope,
            first_party: self.first_party,
            created_at: self.created_at,
            audiences: settings.audiences,
            access_token_ttl: settings.access_token_ttl,
            refresh_token_ttl: settings.refresh_token_ttl,
            signing_alg: SigningAlg::parse(&settings.signing_alg).map_err(unavailable)?,
            web_origins: settings.web_origins,
            backchannel_logout_uri: settings.backchannel_logout_uri,
            jwks: settings.jwks,
            roles: settings.roles,
        })
    }
}

impl ClientStore for Store {
    fn create_client(&self, c: &Client, audit: &AuditEvent) -> Result<(), StoreError> {
        let row = Row::from_client(c)?;
        self.db.write_tx(|conn| {
            diesel::insert_into(clients::table)
                .values(&row)
                .execute(conn)
                .map_err(map_err("a client with this name already exists in the tenant"))?;
            append_in(conn, &self.vault, audit).map(|_| ())
        })
    }

    fn client_by_id(&self, tenant_id: &str, client_id: &str) -> Result<Option<Client>, StoreError> {
        let row: Option<Row> = clients::table
            .filter(clients::tenant_id.eq(tenant_id))
            .filter(clients::client_id.eq(client_id))
            .first(&mut *self.db.conn()?)
            .optional()
            .map_err(unavailable)?;
        row.map(Row::into_client).transpose()
    }

    fn tenant_web_origins(&self, tenant_id: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<Row> =
            clients::table.filter(clients::tenant_id.eq(tenant_id)).load(&mut *self.db.conn()?).map_err(unavailable)?;
        let mut out: Vec<String> = Vec::new();
        for client in rows.into_iter().map(Row::into_client) {
            out.extend(client?.web_origins);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}
