//! The one diesel schema, shared by both backends (hand-kept in step with `migrations/`).

diesel::table! {
    tenants (id) {
        id -> Text,
        slug -> Text,
        display_name -> Text,
        is_platform -> Bool,
        created_at -> BigInt,
        bind_sessions -> Bool,
        settings -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        tenant_id -> Text,
        username -> Text,
        email -> Text,
        password_hash -> Nullable<Text>,
        must_change_password -> Bool,
        disabled -> Bool,
        created_at -> BigInt,
        display_name -> Text,
        email_verified -> Bool,
        password_changed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    roles (tenant_id, name) {
        tenant_id -> Text,
        name -> Text,
        description -> Text,
    }
}

diesel::table! {
    role_assignments (tenant_id, user_id, role_name) {
        tenant_id -> Text,
        user_id -> Text,
        role_name -> Text,
    }
}

diesel::table! {
    clients (client_id) {
        client_id -> Text,
        tenant_id -> Text,
        name -> Text,
        client_type -> Text,
        secret_hash -> Nullable<Binary>,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        grant_types -> Text,
        scope -> Text,
        first_party -> Bool,
        created_at -> BigInt,
        settings -> Text,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        tenant_id -> Text,
        alg -> Text,
        private_key -> Binary,
        public_jwk -> Text,
        created_at -> BigInt,
        retire_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    revoked_tokens (tenant_id, jti) {
        tenant_id -> Text,
        jti -> Text,
        client_id -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    data_keys (kind, version) {
        kind -> Text,
        version -> Integer,
        wrapped -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    audit_log (seq) {
        seq -> BigInt,
        at -> BigInt,
        tenant_id -> Nullable<Text>,
        actor -> Text,
        action -> Text,
        target -> Nullable<Text>,
        source_ip -> Nullable<Text>,
        outcome -> Text,
        details -> Text,
        prev_hash -> Binary,
        hash -> Binary,
    }
}

diesel::allow_tables_to_appear_in_same_query!(tenants, users, roles, role_assignments, clients);

diesel::table! {
    sessions (id_hash) {
        id_hash -> Binary,
        tenant_id -> Text,
        user_id -> Text,
        sid -> Text,
        auth_time -> BigInt,
        amr -> Text,
        acr -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
        ended_at -> Nullable<BigInt>,
        user_agent_hash -> Nullable<Binary>,
        client_ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    auth_requests (id) {
        id -> Text,
        tenant_id -> Text,
        client_id -> Text,
        params -> Text,
        binding_hash -> Binary,
        csrf_hash -> Binary,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    auth_codes (code_hash) {
        code_hash -> Binary,
        tenant_id -> Text,
        client_id -> Text,
        user_id -> Text,
        sid -> Text,
        redirect_uri -> Text,
        scope -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Text,
        auth_time -> BigInt,
        amr -> Text,
        acr -> Text,
        expires_at -> BigInt,
        consumed_at -> Nullable<BigInt>,
        family_id -> Nullable<Text>,
        access_jti -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Binary,
        tenant_id -> Text,
        client_id -> Text,
        user_id -> Text,
        family_id -> Text,
        sid -> Text,
        scope -> Text,
        auth_time -> BigInt,
        amr -> Text,
        acr -> Text,
        access_jti -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        rotated_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    consents (tenant_id, user_id, client_id) {
        tenant_id -> Text,
        user_id -> Text,
        client_id -> Text,
        scope -> Text,
        granted_at -> BigInt,
    }
}

diesel::table! {
    client_assertion_jtis (tenant_id, client_id, jti) {
        tenant_id -> Text,
        client_id -> Text,
        jti -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    account_lockouts (tenant_id, user_id) {
        tenant_id -> Text,
        user_id -> Text,
        failures -> Integer,
        lockouts -> Integer,
        locked_until -> Nullable<BigInt>,
        updated_at -> BigInt,
        in_flight -> Integer,
        reserved_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_anchor (id) {
        id -> Integer,
        seq -> BigInt,
        hash -> Binary,
        mac -> Binary,
        pruned_at -> BigInt,
    }
}

diesel::table! {
    session_clients (tenant_id, sid, client_id) {
        tenant_id -> Text,
        sid -> Text,
        client_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    logout_notices (id) {
        id -> Text,
        tenant_id -> Text,
        client_id -> Text,
        user_id -> Text,
        sid -> Text,
        created_at -> BigInt,
        attempts -> Integer,
        next_attempt_at -> BigInt,
    }
}

diesel::table! {
    write_probe (id) {
        id -> Integer,
        at -> BigInt,
    }
}

diesel::table! {
    password_history (tenant_id, user_id, created_at) {
        tenant_id -> Text,
        user_id -> Text,
        hash -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    user_tokens (token_hash) {
        token_hash -> Binary,
        tenant_id -> Text,
        user_id -> Text,
        purpose -> Text,
        data -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Text,
        tenant_id -> Nullable<Text>,
        sealed -> Binary,
        created_at -> BigInt,
        attempts -> Integer,
        next_attempt_at -> BigInt,
    }
}

diesel::table! {
    mfa_factors (id) {
        id -> Text,
        tenant_id -> Text,
        user_id -> Text,
        kind -> Text,
        name -> Text,
        confirmed -> Bool,
        secret -> Nullable<Binary>,
        last_step -> Nullable<BigInt>,
        credential_id -> Nullable<Text>,
        credential -> Nullable<Text>,
        transports -> Nullable<Text>,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    recovery_codes (tenant_id, user_id, code_hash) {
        tenant_id -> Text,
        user_id -> Text,
        code_hash -> Binary,
        created_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    webauthn_ceremonies (id) {
        id -> Text,
        tenant_id -> Text,
        user_id -> Nullable<Text>,
        purpose -> Text,
        state -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    upstreams (id) {
        id -> Text,
        tenant_id -> Text,
        name -> Text,
        display_name -> Text,
        issuer -> Text,
        client_id -> Text,
        client_secret -> Nullable<Binary>,
        scopes -> Text,
        settings -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    upstream_identities (tenant_id, upstream_id, subject) {
        tenant_id -> Text,
        upstream_id -> Text,
        subject -> Text,
        user_id -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    upstream_sessions (sid) {
        sid -> Text,
        tenant_id -> Text,
        upstream_id -> Text,
        id_token -> Binary,
    }
}
