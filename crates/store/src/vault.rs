//! The credential vault: exchange API secrets, envelope-encrypted.
//!
//! Each workspace has a random 256-bit data key. The database holds it only wrapped
//! (AES-256-GCM) by a master key, which comes from `SKEET_MASTER_KEY` or a key file and never
//! reaches the database. Each credential's secret fields are sealed (AES-256-GCM) with the
//! workspace's data key.
//!
//! Invariants:
//! - No plaintext secret and no key in clear is ever written to the database: only
//!   `nonce || ciphertext` (hex) and a masked API key for display.
//! - Every seal binds its context as additional authenticated data: a wrapped data key to
//!   its workspace and master-key version, a credential to its workspace and credential id.
//!   A ciphertext copied to another workspace or credential fails to open.
//! - Nonces are 96 random bits per seal (keys seal few messages, so random nonces are safe).
//! - Rotation re-wraps every data key with the newest master key in one transaction; the
//!   credentials themselves do not change, so old data keeps opening.
//! - Opened secrets live in [`zeroize::Zeroizing`] buffers and are wiped when dropped.

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use zeroize::Zeroizing;

use crate::{Db, StoreError, int_column, new_id, now_ms};

/// Versioned master keys; the highest version wraps new data keys.
#[derive(Clone)]
pub struct MasterKeys {
    keys: BTreeMap<i64, Zeroizing<[u8; 32]>>,
}

impl std::fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Versions only: a key must never reach a log.
        f.debug_struct("MasterKeys")
            .field("versions", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A key file or variable that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("master key: {0}")]
pub struct KeyError(String);

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("invariant: the OS random source is available");
    b
}

impl MasterKeys {
    /// Parses `VERSION:HEX` entries (64 hex digits each) separated by commas or new lines;
    /// `#` starts a comment. A bare 64-digit hex key is version 1.
    ///
    /// # Errors
    /// An entry that is not a version and a 32-byte hex key, or no key at all.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut keys = BTreeMap::new();
        for entry in text
            .lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (version, hex_key) = match entry.split_once(':') {
                Some((v, k)) => (
                    v.trim()
                        .trim_start_matches('v')
                        .parse::<i64>()
                        .map_err(|_| {
                            KeyError(format!(
                                "'{v}' is not a key version (write 1:HEX, 2:HEX, ...)"
                            ))
                        })?,
                    k.trim(),
                ),
                None => (1, entry),
            };
            let bytes = hex::decode(hex_key)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| {
                    KeyError(format!(
                        "version {version}: a key is 64 hex digits (32 bytes); generate one with `openssl rand -hex 32`"
                    ))
                })?;
            if version < 1 {
                return Err(KeyError("key versions start at 1".into()));
            }
            keys.insert(version, Zeroizing::new(bytes));
        }
        if keys.is_empty() {
            return Err(KeyError("no key given".into()));
        }
        Ok(Self { keys })
    }

    /// A fresh version-1 key, as the text of a key file.
    pub fn generate_file_text() -> String {
        format!(
            "# SKEET master key: keep it secret, back it up, never commit it.\n1:{}\n",
            hex::encode(random::<32>())
        )
    }

    /// These keys plus a new, higher version (for rotation), and that version.
    pub fn with_new_version(&self) -> (Self, i64) {
        let next = self.current() + 1;
        let mut keys = self.keys.clone();
        keys.insert(next, Zeroizing::new(random::<32>()));
        (Self { keys }, next)
    }

    /// The text of a key file holding every version.
    pub fn to_file_text(&self) -> String {
        let mut out = String::from(
            "# SKEET master keys: keep them secret, back them up, never commit them.\n",
        );
        for (v, k) in &self.keys {
            out.push_str(&format!("{v}:{}\n", hex::encode(k.as_ref())));
        }
        out
    }

    /// The newest version.
    pub fn current(&self) -> i64 {
        self.keys.keys().next_back().copied().unwrap_or(1)
    }

    fn key(&self, version: i64) -> Result<&[u8; 32], StoreError> {
        self.keys.get(&version).map(|k| &**k).ok_or_else(|| {
            StoreError::Vault(format!(
                "master key version {version} is not loaded; give every version still in use (SKEET_MASTER_KEY=1:HEX,2:HEX)"
            ))
        })
    }
}

fn seal(key: &[u8; 32], aad: &str, plain: &[u8]) -> Result<String, StoreError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|e| StoreError::Vault(e.to_string()))?;
    let nonce_bytes = random::<12>();
    let nonce = Nonce::from(nonce_bytes);
    let ct = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plain,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| StoreError::Vault("encryption failed".into()))?;
    let mut out = nonce_bytes.to_vec();
    out.extend_from_slice(&ct);
    Ok(hex::encode(out))
}

fn open(key: &[u8; 32], aad: &str, sealed: &str) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let bytes =
        hex::decode(sealed).map_err(|_| StoreError::Vault("a sealed value is not hex".into()))?;
    if bytes.len() < 12 + 16 {
        return Err(StoreError::Vault("a sealed value is too short".into()));
    }
    let (nonce, ct) = bytes.split_at(12);
    let nonce = Nonce::try_from(nonce).map_err(|_| StoreError::Vault("bad nonce".into()))?;
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|e| StoreError::Vault(e.to_string()))?;
    cipher
        .decrypt(&nonce, Payload { msg: ct, aad: aad.as_bytes() })
        .map(Zeroizing::new)
        .map_err(|_| {
            StoreError::Vault(
                "a sealed value does not open: wrong key, or it was moved from another workspace or credential".into(),
            )
        })
}

fn key_aad(workspace_id: &str, version: i64) -> String {
    format!("skeet:workspace-key:v1:{workspace_id}:{version}")
}

fn credential_aad(workspace_id: &str, credential_id: &str) -> String {
    format!("skeet:credential:v1:{workspace_id}:{credential_id}")
}

/// The secret parts of an exchange credential (only ever in memory, wiped on drop).
#[derive(Clone, Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct CredentialSecret {
    /// API key.
    pub api_key: String,
    /// API secret (HMAC secret, private key PEM, ...).
    pub api_secret: String,
    /// Passphrase, for venues that use one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
}

impl std::fmt::Debug for CredentialSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialSecret(***)")
    }
}

/// A credential as the API shows it: never the secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Credential {
    /// Id.
    pub id: String,
    /// Owning workspace.
    pub workspace_id: String,
    /// Venue (`binance`, `kraken`, ...).
    pub venue: String,
    /// Name, unique in the workspace.
    pub label: String,
    /// The API key with all but its first and last 4 characters masked.
    pub api_key_masked: String,
    /// Who added it.
    pub created_by: String,
    /// Added (ms).
    pub created_at: i64,
}

/// `abcd****wxyz` (short keys are masked whole).
pub fn mask(api_key: &str) -> String {
    let chars: Vec<char> = api_key.chars().collect();
    if chars.len() <= 10 {
        return "*".repeat(chars.len().max(4));
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// The vault repository.
#[derive(Clone, Debug)]
pub struct Vault {
    db: Db,
    keys: MasterKeys,
}

impl Vault {
    /// On `db` with `keys`.
    pub fn new(db: Db, keys: MasterKeys) -> Self {
        Self { db, keys }
    }

    /// The workspace's data key, created (and stored wrapped) on first use.
    async fn data_key(&self, workspace_id: &str) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        let row = sqlx::query(
            "SELECT master_version, wrapped_key FROM workspace_keys WHERE workspace_id = $1",
        )
        .bind(workspace_id)
        .fetch_optional(self.db.pool())
        .await?;
        if let Some(row) = row {
            let version = int_column(&row, "master_version")?;
            let wrapped: String = row.try_get("wrapped_key")?;
            let plain = open(
                self.keys.key(version)?,
                &key_aad(workspace_id, version),
                &wrapped,
            )?;
            let key = <[u8; 32]>::try_from(plain.as_slice())
                .map_err(|_| StoreError::Vault("a data key is not 32 bytes".into()))?;
            return Ok(Zeroizing::new(key));
        }
        let key = Zeroizing::new(random::<32>());
        let version = self.keys.current();
        let wrapped = seal(
            self.keys.key(version)?,
            &key_aad(workspace_id, version),
            key.as_ref(),
        )?;
        // Two first uses at once: the second insert loses and both read the winner's key.
        sqlx::query(
            "INSERT INTO workspace_keys (workspace_id, master_version, wrapped_key, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_id) DO NOTHING",
        )
        .bind(workspace_id)
        .bind(i32::try_from(version).unwrap_or(i32::MAX))
        .bind(&wrapped)
        .bind(now_ms())
        .execute(self.db.pool())
        .await?;
        Box::pin(self.data_key(workspace_id)).await
    }

    /// Stores a credential; only the masked API key stays readable.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] for a label already used in the workspace; vault and
    /// database errors.
    pub async fn put(
        &self,
        workspace_id: &str,
        venue: &str,
        label: &str,
        secret: &CredentialSecret,
        created_by: &str,
    ) -> Result<Credential, StoreError> {
        let key = self.data_key(workspace_id).await?;
        let id = new_id();
        let plain = Zeroizing::new(serde_json::to_vec(secret)?);
        let sealed = seal(&key, &credential_aad(workspace_id, &id), &plain)?;
        let now = now_ms();
        let masked = mask(&secret.api_key);
        let inserted = sqlx::query(
            "INSERT INTO credentials (id, workspace_id, venue, label, api_key_masked, sealed, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(workspace_id)
        .bind(venue)
        .bind(label)
        .bind(&masked)
        .bind(&sealed)
        .bind(created_by)
        .bind(now)
        .execute(self.db.pool())
        .await;
        if let Err(e) = inserted {
            return Err(match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(
                    format!("a credential labelled '{label}' already exists in this workspace"),
                ),
                _ => e.into(),
            });
        }
        Ok(Credential {
            id,
            workspace_id: workspace_id.to_string(),
            venue: venue.to_string(),
            label: label.to_string(),
            api_key_masked: masked,
            created_by: created_by.to_string(),
            created_at: now,
        })
    }

    /// Credentials of a workspace (masked).
    ///
    /// # Errors
    /// A database error.
    pub async fn list(&self, workspace_id: &str) -> Result<Vec<Credential>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, workspace_id, venue, label, api_key_masked, created_by, created_at
             FROM credentials WHERE workspace_id = $1 ORDER BY created_at, id",
        )
        .bind(workspace_id)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Credential {
                    id: r.try_get("id")?,
                    workspace_id: r.try_get("workspace_id")?,
                    venue: r.try_get("venue")?,
                    label: r.try_get("label")?,
                    api_key_masked: r.try_get("api_key_masked")?,
                    created_by: r.try_get("created_by")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Opens a credential's secret (for the worker that signs with it).
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::Vault`] when it does not open.
    pub async fn open(&self, workspace_id: &str, id: &str) -> Result<CredentialSecret, StoreError> {
        let sealed: String = sqlx::query_scalar(
            "SELECT sealed FROM credentials WHERE id = $1 AND workspace_id = $2",
        )
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        let key = self.data_key(workspace_id).await?;
        let plain = open(&key, &credential_aad(workspace_id, id), &sealed)?;
        Ok(serde_json::from_slice(&plain)?)
    }

    /// Deletes a credential.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; a database error.
    pub async fn delete(&self, workspace_id: &str, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM credentials WHERE id = $1 AND workspace_id = $2")
            .bind(id)
            .bind(workspace_id)
            .execute(self.db.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Re-wraps every workspace data key with the newest master key, in one transaction.
    /// Returns how many keys were re-wrapped.
    ///
    /// # Errors
    /// A data key that does not open with the loaded keys (nothing is changed then); a
    /// database error.
    pub async fn rotate(&self) -> Result<usize, StoreError> {
        let target = self.keys.current();
        let mut tx = self.db.pool().begin().await?;
        let rows =
            sqlx::query("SELECT workspace_id, master_version, wrapped_key FROM workspace_keys")
                .fetch_all(&mut *tx)
                .await?;
        let mut n = 0;
        for row in &rows {
            let ws: String = row.try_get("workspace_id")?;
            let version = int_column(row, "master_version")?;
            let wrapped: String = row.try_get("wrapped_key")?;
            let plain = open(self.keys.key(version)?, &key_aad(&ws, version), &wrapped)?;
            let rewrapped = seal(self.keys.key(target)?, &key_aad(&ws, target), &plain)?;
            sqlx::query(
                "UPDATE workspace_keys SET master_version = $1, wrapped_key = $2, rotated_at = $3 WHERE workspace_id = $4",
            )
            .bind(i32::try_from(target).unwrap_or(i32::MAX))
            .bind(&rewrapped)
            .bind(now_ms())
            .bind(&ws)
            .execute(&mut *tx)
            .await?;
            n += 1;
        }
        tx.commit().await?;
        Ok(n)
    }

    /// The oldest master-key version still wrapping a data key (`None` when there is none):
    /// keys below it may be retired after a rotation.
    ///
    /// # Errors
    /// A database error.
    pub async fn oldest_version_in_use(&self) -> Result<Option<i64>, StoreError> {
        let rows = sqlx::query("SELECT master_version FROM workspace_keys")
            .fetch_all(self.db.pool())
            .await?;
        let mut min = None;
        for r in &rows {
            let v = int_column(r, "master_version")?;
            min = Some(min.map_or(v, |m: i64| m.min(v)));
        }
        Ok(min)
    }
}
