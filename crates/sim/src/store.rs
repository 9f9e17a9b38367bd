//! The simulated cluster's objects, as the API server keeps them: JSON by (resource, namespace,
//! name), one resourceVersion counter, and the recent changes that watches replay from a
//! resourceVersion. Controllers read typed objects (k8s-openapi) and write JSON back.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::watch;

/// How many changes a watch can resume from; older resourceVersions get 410 Gone.
const HISTORY: usize = 20_000;

/// `ADDED`, `MODIFIED`, `DELETED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change of one object.
#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub key: String,
    pub namespace: String,
    pub kind: ChangeKind,
    pub object: Value,
}

/// (resource key, namespace, name). Keys: `pods`, `apps/deployments`,
/// `autoscaling/horizontalpodautoscalers`, `metrics.k8s.io/pods`...
pub type Id = (String, String, String);

#[derive(Default)]
struct Inner {
    rv: u64,
    objects: BTreeMap<Id, Value>,
    history: VecDeque<Change>,
    uid: u64,
}

/// The object store. Cloning shares it.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Mutex<Inner>>,
    /// The latest resourceVersion, for watches to wait on.
    latest: watch::Sender<u64>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

/// The resource key of an object from its apiVersion and kind.
pub fn key_of(api_version: &str, kind: &str) -> String {
    let plural = match kind {
        "HorizontalPodAutoscaler" => "horizontalpodautoscalers".to_string(),
        "PodMetrics" => "pods".to_string(),
        other => format!("{}s", other.to_ascii_lowercase()),
    };
    match api_version.rsplit_once('/') {
        Some((group, _)) => format!("{group}/{plural}"),
        None => plural,
    }
}

impl Store {
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                rv: 1000,
                ..Default::default()
            })),
            latest: watch::channel(1000).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates or replaces an object (JSON with apiVersion, kind, metadata.name): keeps its
    /// uid and creationTimestamp (or gives it new ones) and gives it a new resourceVersion.
    /// An object without a namespace is cluster-scoped (namespace "" here).
    /// Returns the object as stored.
    pub fn put(&self, mut object: Value) -> Value {
        let key = key_of(
            object["apiVersion"].as_str().unwrap_or("v1"),
            object["kind"].as_str().unwrap_or(""),
        );
        let ns = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut s = self.lock();
        s.rv += 1;
        let rv = s.rv;
        let id = (key.clone(), ns.clone(), name);
        let old = s.objects.get(&id);
        let meta = &mut object["metadata"];
        meta["resourceVersion"] = json!(rv.to_string());
        let kept = |field: &str| old.map(|o| o["metadata"][field].clone());
        if meta["uid"].is_null() {
            meta["uid"] = kept("uid").unwrap_or(Value::Null);
        }
        if meta["creationTimestamp"].is_null() {
            meta["creationTimestamp"] =
                kept("creationTimestamp").unwrap_or_else(|| json!(super::objects::now()));
        }
        let kind = if old.is_some() {
            ChangeKind::Modified
        } else {
            ChangeKind::Added
        };
        if object["metadata"]["uid"].is_null() {
            s.uid += 1;
            object["metadata"]["uid"] = json!(format!("00000000-0000-4000-8000-{:012x}", s.uid));
        }
        s.objects.insert(id, object.clone());
        s.record(Change {
            rv,
            key,
            namespace: ns,
            kind,
            object: object.clone(),
        });
        drop(s);
        self.latest.send_replace(rv);
        object
    }

    /// Removes an object; returns it as last stored (with the deletion's resourceVersion).
    pub fn delete(&self, key: &str, ns: &str, name: &str) -> Option<Value> {
        let mut s = self.lock();
        let mut object = s
            .objects
            .remove(&(key.to_string(), ns.to_string(), name.to_string()))?;
        s.rv += 1;
        let rv = s.rv;
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        s.record(Change {
            rv,
            key: key.into(),
            namespace: ns.into(),
            kind: ChangeKind::Deleted,
            object: object.clone(),
        });
        drop(s);
        self.latest.send_replace(rv);
        Some(object)
    }

    pub fn get(&self, key: &str, ns: &str, name: &str) -> Option<Value> {
        self.lock()
            .objects
            .get(&(key.to_string(), ns.to_string(), name.to_string()))
            .cloned()
    }

    /// A stored object as a k8s-openapi type.
    pub fn get_as<T: DeserializeOwned>(&self, key: &str, ns: &str, name: &str) -> Option<T> {
        serde_json::from_value(self.get(key, ns, name)?).ok()
    }

    /// The objects of `key` in `ns` (every namespace when `None`) that `keep` accepts, and the
    /// resourceVersion they are current at.
    pub fn list(
        &self,
        key: &str,
        ns: Option<&str>,
        keep: impl Fn(&Value) -> bool,
    ) -> (Vec<Value>, u64) {
        let s = self.lock();
        let items = s
            .objects
            .iter()
            .filter(|((k, n, _), o)| k == key && ns.is_none_or(|ns| ns == n) && keep(o))
            .map(|(_, o)| o.clone())
            .collect();
        (items, s.rv)
    }

    /// The objects of `key` in `ns` as a k8s-openapi type.
    pub fn list_as<T: DeserializeOwned>(&self, key: &str, ns: &str) -> Vec<T> {
        self.list(key, Some(ns), |_| true)
            .0
            .into_iter()
            .filter_map(|o| serde_json::from_value(o).ok())
            .collect()
    }

    /// The changes after `rv`, or `None` when they are no longer kept (410 Gone).
    pub fn changes_since(&self, rv: u64) -> Option<Vec<Change>> {
        let s = self.lock();
        if let Some(first) = s.history.front()
            && rv + 1 < first.rv
        {
            return None;
        }
        Some(s.history.iter().filter(|c| c.rv > rv).cloned().collect())
    }

    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// Wakes up when a change is made.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }
}

impl Inner {
    fn record(&mut self, change: Change) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(change);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}})
    }

    #[test]
    fn puts_and_deletes_are_changes_with_rising_resource_versions() {
        let store = Store::new();
        let rv0 = store.resource_version();
        let a = store.put(pod("a"));
        assert_eq!(a["metadata"]["namespace"], "default");
        let uid = a["metadata"]["uid"].clone();
        let again = store.put(pod("a"));
        assert_eq!(
            again["metadata"]["uid"], uid,
            "a replaced object keeps its uid"
        );
        store.delete("pods", "default", "a").unwrap();
        let changes = store.changes_since(rv0).unwrap();
        let kinds: Vec<_> = changes.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [ChangeKind::Added, ChangeKind::Modified, ChangeKind::Deleted]
        );
        assert!(changes.windows(2).all(|w| w[0].rv < w[1].rv));
        assert!(store.get("pods", "default", "a").is_none());
    }

    #[test]
    fn a_resource_version_older_than_the_history_is_gone() {
        let store = Store::new();
        let rv0 = store.resource_version();
        for i in 0..HISTORY + 2 {
            store.put(pod(&format!("p{}", i % 3)));
        }
        assert!(store.changes_since(rv0).is_none());
        let recent = store.resource_version() - 5;
        assert_eq!(store.changes_since(recent).unwrap().len(), 5);
    }
}
