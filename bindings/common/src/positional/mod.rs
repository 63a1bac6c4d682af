//! The positional form of the decisions: each struct as a JSON array of its field values, in
//! declaration order, without the keys. A host whose JSON parser is slow on keyed objects
//! rebuilds the keyed objects from the arrays with object literals: V8's `JSON.parse` takes
//! 1.7 µs for the bench's 699-byte keyed route decision and 0.6 µs for its 258-byte positional
//! form.
//!
//! [`LAYOUT`] lists, for every struct, its fields in array order under their serialized names
//! and which of them are themselves positional structs, so a host can check that its rebuilder
//! agrees (the Node tests do). Maps (header operations, labels) stay JSON objects, and every
//! scalar, array of scalars and `null` is written exactly as in the keyed form. A field added
//! to a view in mesh-core and not here is caught by the tests, which compare with serde's keyed
//! text.

use mesh_core::explain::{
    AuthzView, DestinationView, DirectResponseView, FaultAbortView, FaultDelayView, FaultView,
    HeadersView, MirrorView, OpsView, RedirectView, RetriesView, RewriteView, RouteView,
};
use serde::Serialize;
use serde::ser::{SerializeSeq, SerializeTuple, Serializer};

#[cfg(test)]
mod tests;

/// A decision written positionally: `serde_json::to_writer(out, &Positional(&view))`.
/// Implemented for [`RouteView`], [`AuthzView`] and the structs they hold.
#[derive(Clone, Copy, Debug)]
pub struct Positional<'a, T>(pub &'a T);

/// One struct's fields, in array order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Shape {
    /// The struct's name in the layout (`route`, `destination`, ...).
    pub name: &'static str,
    /// Its fields.
    pub fields: &'static [Field],
}

/// One field of a [`Shape`]. Serialized as `[name]` for a value written as in the keyed form,
/// `[name, "one", shape]` or `[name, "list", shape]` for nested shapes, and
/// `[name, "pick", shape, list]` for an element of a sibling list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The key of the keyed form.
    pub name: &'static str,
    /// How its value is written.
    pub nested: Nested,
}

/// How a field's value is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nested {
    /// As in the keyed form (scalars, `null`, arrays of scalars, maps).
    Value,
    /// The named shape, positionally, or `null`.
    One(&'static str),
    /// An array of the named shape, each positionally.
    List(&'static str),
    /// `null`, the index of an equal element of the sibling field `list` (an array of
    /// `shape`), or the named shape positionally when no element is equal. The route's picked
    /// destination is one of its destinations: an index is one number to parse instead of a
    /// five-element array.
    Pick {
        /// The shape.
        shape: &'static str,
        /// The sibling list field.
        list: &'static str,
    },
}

impl Serialize for Field {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.nested {
            Nested::Value => [self.name].serialize(s),
            Nested::One(shape) => [self.name, "one", shape].serialize(s),
            Nested::List(shape) => [self.name, "list", shape].serialize(s),
            Nested::Pick { shape, list } => [self.name, "pick", shape, list].serialize(s),
        }
    }
}

/// Every shape, the route decision's first and `authz` last.
pub const LAYOUT: &[Shape] = &[
    ROUTE,
    DESTINATION,
    RETRIES,
    FAULT,
    FAULT_DELAY,
    FAULT_ABORT,
    MIRROR,
    REDIRECT,
    DIRECT_RESPONSE,
    REWRITE,
    HEADERS,
    OPS,
    AUTHZ,
];

/// A list written element by element, each positionally.
struct Seq<'a, T>(&'a [T]);

impl<'a, T> Serialize for Seq<'a, T>
where
    Positional<'a, T>: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&Positional(item))?;
        }
        seq.end()
    }
}

/// The field's value as written: `value` as is, `one` positionally (an `Option` or a plain
/// struct), `list` element by element, `pick` as an index into the sibling list.
macro_rules! element {
    (value, $v:ident . $field:ident) => {
        &$v.$field
    };
    (one, $v:ident . $field:ident) => {
        &one(&$v.$field)
    };
    (list, $v:ident . $field:ident) => {
        &Seq(&$v.$field)
    };
    (pick, $v:ident . $field:ident in $list:ident) => {
        &Pick {
            item: &$v.$field,
            list: &$v.$list,
        }
    };
}

/// The layout entry of a field.
macro_rules! nested {
    (value) => {
        Nested::Value
    };
    (one $shape:ident) => {
        Nested::One($shape.name)
    };
    (list $shape:ident) => {
        Nested::List($shape.name)
    };
    (pick $shape:ident in $list:ident) => {
        Nested::Pick {
            shape: $shape.name,
            list: stringify!($list),
        }
    };
}

/// A struct's `Serialize` as a tuple and its [`Shape`], from one list of fields, so the two
/// cannot disagree: `field [=> "key"] : kind [SHAPE [in sibling]]`.
macro_rules! positional {
    ($shape:ident = $name:literal, $ty:ty {
        $($field:ident $(=> $key:literal)? : $kind:ident $($inner:ident)? $(in $list:ident)?),+
        $(,)?
    }) => {
        #[doc = concat!("The `", $name, "` shape.")]
        const $shape: Shape = Shape {
            name: $name,
            fields: &[$(Field {
                name: positional!(@key $field $($key)?),
                nested: nested!($kind $($inner)? $(in $list)?),
            }),+],
        };

        impl Serialize for Positional<'_, $ty> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let v = self.0;
                let mut t = s.serialize_tuple($shape.fields.len())?;
                $(t.serialize_element(element!($kind, v.$field $(in $list)?))?;)+
                t.end()
            }
        }
    };
    (@key $field:ident) => { stringify!($field) };
    (@key $field:ident $key:literal) => { $key };
}

/// An optional element of `list`: its index when `list` holds an equal element.
struct Pick<'a, T> {
    item: &'a Option<T>,
    list: &'a [T],
}

impl<'a, T: PartialEq> Serialize for Pick<'a, T>
where
    Positional<'a, T>: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(item) = self.item else {
            return s.serialize_none();
        };
        match self.list.iter().position(|x| x == item) {
            Some(i) => s.serialize_u64(i as u64),
            None => Positional(item).serialize(s),
        }
    }
}

/// A struct or an optional struct, positionally (`null` for `None`).
trait Of<'a> {
    type Out: Serialize;
    fn of(self) -> Self::Out;
}

impl<'a, T> Of<'a> for &'a Option<T>
where
    Positional<'a, T>: Serialize,
{
    type Out = Option<Positional<'a, T>>;
    fn of(self) -> Self::Out {
        self.as_ref().map(Positional)
    }
}

fn one<'a, X: Of<'a>>(x: X) -> X::Out {
    x.of()
}

macro_rules! plain_struct {
    ($($ty:ty),+) => {$(
        impl<'a> Of<'a> for &'a $ty {
            type Out = Positional<'a, $ty>;
            fn of(self) -> Self::Out {
                Positional(self)
            }
        }
    )+};
}
plain_struct!(OpsView);

positional!(ROUTE = "route", RouteView {
    virtual_service: value,
    rule: value,
    rule_name: value,
    match_index => "match": value,
    action: value,
    status: value,
    destinations: list DESTINATION,
    picked: pick DESTINATION in destinations,
    timeout_ms: value,
    retries: one RETRIES,
    fault: one FAULT,
    mirror: list MIRROR,
    redirect: one REDIRECT,
    direct_response: one DIRECT_RESPONSE,
    rewrite: one REWRITE,
    headers: one HEADERS,
});

positional!(
    DESTINATION = "destination",
    DestinationView {
        host: value,
        subset: value,
        port: value,
        weight: value,
        percent: value,
    }
);

positional!(
    RETRIES = "retries",
    RetriesView {
        attempts: value,
        per_try_timeout_ms: value,
        retry_on: value,
        retriable_status_codes: value,
        backoff_base_ms: value,
        retry_ignore_previous_hosts: value,
        default: value,
    }
);

positional!(FAULT = "fault", FaultView {
    delay: one FAULT_DELAY,
    abort: one FAULT_ABORT,
});

positional!(
    FAULT_DELAY = "fault_delay",
    FaultDelayView {
        fixed_delay_ms: value,
        percentage: value,
    }
);

positional!(
    FAULT_ABORT = "fault_abort",
    FaultAbortView {
        http_status: value,
        grpc_status: value,
        percentage: value,
    }
);

positional!(
    MIRROR = "mirror",
    MirrorView {
        host: value,
        subset: value,
        port: value,
        percentage: value,
    }
);

positional!(
    REDIRECT = "redirect",
    RedirectView {
        status: value,
        location: value,
    }
);

positional!(
    DIRECT_RESPONSE = "direct_response",
    DirectResponseView {
        status: value,
        body: value,
    }
);

positional!(
    REWRITE = "rewrite",
    RewriteView {
        path: value,
        authority: value,
    }
);

positional!(HEADERS = "headers", HeadersView {
    request: one OPS,
    response: one OPS,
});

positional!(
    OPS = "ops",
    OpsView {
        set: value,
        add: value,
        remove: value,
    }
);

positional!(
    AUTHZ = "authz",
    AuthzView {
        workload: value,
        decision: value,
        status: value,
        reason: value,
        policy: value,
        rule: value,
        action: value,
        path: value,
        normalization: value,
        policies: value,
        audit: value,
        dry_run: value,
    }
);
