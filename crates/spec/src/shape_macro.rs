//! The one place an Ignition type is declared: fields, JSON names, Butane names,
//! first spec version, and the omit-when-empty rule of Go's encoder.

use ferro_document::Shape;

/// Types that can describe their accepted values as a [`Shape`].
pub trait HasShape {
    /// The shape of values of this type.
    fn shape() -> Shape;
}

impl HasShape for String {
    fn shape() -> Shape {
        Shape::Str
    }
}

impl HasShape for bool {
    fn shape() -> Shape {
        Shape::Bool
    }
}

impl HasShape for i64 {
    fn shape() -> Shape {
        Shape::Int
    }
}

impl<T: HasShape> HasShape for Option<T> {
    fn shape() -> Shape {
        T::shape()
    }
}

impl<T: HasShape> HasShape for Vec<T> {
    fn shape() -> Shape {
        Shape::List(T::shape)
    }
}

/// Go's `omitempty` as Ignition's types use it: nil pointers, empty lists, zero
/// numbers and all-zero structs are left out; required strings are always written.
pub trait Omit {
    /// Whether the value is left out of the JSON.
    fn omit(&self) -> bool;
}

impl<T> Omit for Option<T> {
    fn omit(&self) -> bool {
        self.is_none()
    }
}

impl<K, V> Omit for std::collections::BTreeMap<K, V> {
    fn omit(&self) -> bool {
        self.is_empty()
    }
}

impl<V: HasShape> HasShape for std::collections::BTreeMap<String, V> {
    fn shape() -> Shape {
        Shape::Map(V::shape)
    }
}

impl<T> Omit for Vec<T> {
    fn omit(&self) -> bool {
        self.is_empty()
    }
}

impl Omit for String {
    fn omit(&self) -> bool {
        false
    }
}

/// A pointer Go writes without `omitempty`: `null` when absent (Ignition 3.0.0's
/// config reference source).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Nullable<T>(pub Option<T>);

impl<T> Omit for Nullable<T> {
    fn omit(&self) -> bool {
        false
    }
}

impl<T: HasShape> HasShape for Nullable<T> {
    fn shape() -> Shape {
        T::shape()
    }
}

impl Omit for i64 {
    fn omit(&self) -> bool {
        *self == 0
    }
}

/// Declares an Ignition type: the struct with its serde names and the [`Shape`] that
/// drives decoding and version gating.
///
/// Other crates declare their own config types (Butane's sugar) with it too.
///
/// Each field is `rust_name: Type = "jsonName" @ level;` where the Rust name is the Butane
/// (snake_case) key and `level` the first Ignition 3.N minor that accepts it. A field an
/// older spec typed differently adds `, before N: OldType` (the shape below level N), and
/// may carry `#[serde(...)]` attributes after its doc comment.
#[macro_export]
macro_rules! ignition_type {
    (@earlier) => { None };
    (@earlier $until:literal $old:ty) => {
        Some($crate::document::Earlier {
            until: $until,
            shape: <$old as $crate::HasShape>::shape,
        })
    };
    (
        $(#[doc = $doc:literal])*
        $name:ident {
            $(
                $(#[doc = $fdoc:literal])*
                $(#[serde($($serde:tt)*)])*
                $field:ident : $ty:ty = $json:literal @ $since:literal
                    $(, before $until:literal : $old:ty)?;
            )*
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default)]
        pub struct $name {
            $(
                $(#[doc = $fdoc])*
                #[serde(rename = $json, skip_serializing_if = "ferro_spec::Omit::omit")]
                $(#[serde($($serde)*)])*
                pub $field: $ty,
            )*
        }

        impl $name {
            /// The keys this type accepts.
            pub const SHAPE: $crate::document::StructShape = $crate::document::StructShape {
                name: stringify!($name),
                fields: &[
                    $(
                        $crate::document::Field {
                            json: $json,
                            yaml: stringify!($field),
                            since: $since,
                            shape: <$ty as $crate::HasShape>::shape,
                            earlier: $crate::ignition_type!(@earlier $($until $old)?),
                            doc: concat!($($fdoc),*),
                        },
                    )*
                ],
            };
        }

        impl $crate::HasShape for $name {
            fn shape() -> $crate::document::Shape {
                $crate::document::Shape::Struct(&Self::SHAPE)
            }
        }

        impl $crate::Omit for $name {
            fn omit(&self) -> bool {
                *self == Self::default()
            }
        }
    };
}
