//! `describe`: a symbol as proto source, as grpcurl prints it (`NAME is a service:` and the
//! definition, types fully qualified with a leading dot).

use std::fmt::Write;

use prost_reflect::{
    DescriptorPool, EnumDescriptor, FieldDescriptor, MessageDescriptor, MethodDescriptor,
    ServiceDescriptor,
};
use prost_types::field_descriptor_proto::{Label, Type};

/// A symbol found in a pool.
pub enum Symbol {
    Service(ServiceDescriptor),
    Method(MethodDescriptor),
    Message(MessageDescriptor),
    Enum(EnumDescriptor),
}

/// The symbol `name` (a full name without the leading dot) of `pool`, if it has it.
pub fn find(pool: &DescriptorPool, name: &str) -> Option<Symbol> {
    if let Some(service) = pool.get_service_by_name(name) {
        return Some(Symbol::Service(service));
    }
    if let Some(message) = pool.get_message_by_name(name) {
        return Some(Symbol::Message(message));
    }
    if let Some(e) = pool.get_enum_by_name(name) {
        return Some(Symbol::Enum(e));
    }
    let (service, method) = name.rsplit_once('.')?;
    let service = pool.get_service_by_name(service)?;
    let method = service.methods().find(|m| m.name() == method)?;
    Some(Symbol::Method(method))
}

/// grpcurl's text for `symbol`: `NAME is a KIND:` then its definition.
pub fn describe(symbol: &Symbol) -> String {
    let (name, kind, body) = match symbol {
        Symbol::Service(s) => (s.full_name().to_owned(), "a service", service(s)),
        Symbol::Method(m) => (m.full_name().to_owned(), "a method", method(m)),
        Symbol::Message(m) => (m.full_name().to_owned(), "a message", message(m, "")),
        Symbol::Enum(e) => (e.full_name().to_owned(), "an enum", enumeration(e, "")),
    };
    format!("{name} is {kind}:\n{body}")
}

fn service(service: &ServiceDescriptor) -> String {
    let mut out = format!("service {} {{\n", service.name());
    for m in service.methods() {
        let _ = writeln!(out, "  {}", method(&m));
    }
    out.push('}');
    out
}

fn method(m: &MethodDescriptor) -> String {
    let stream = |yes: bool| if yes { "stream " } else { "" };
    format!(
        "rpc {} ( {}.{} ) returns ( {}.{} );",
        m.name(),
        stream(m.is_client_streaming()),
        m.input().full_name(),
        stream(m.is_server_streaming()),
        m.output().full_name()
    )
}

fn message(m: &MessageDescriptor, indent: &str) -> String {
    let mut out = format!("{indent}message {} {{\n", m.name());
    let inner = format!("{indent}  ");
    for nested in m.child_messages().filter(|n| !n.is_map_entry()) {
        let _ = writeln!(out, "{}", message(&nested, &inner));
    }
    for e in m.child_enums() {
        let _ = writeln!(out, "{}", enumeration(&e, &inner));
    }
    let mut oneofs_done = Vec::new();
    for field in m.fields() {
        match field.containing_oneof().filter(|o| !o.is_synthetic()) {
            Some(oneof) => {
                if oneofs_done.contains(&oneof.name().to_owned()) {
                    continue;
                }
                oneofs_done.push(oneof.name().to_owned());
                let _ = writeln!(out, "{inner}oneof {} {{", oneof.name());
                for f in oneof.fields() {
                    let _ = writeln!(out, "{inner}  {}", field_line(&f));
                }
                let _ = writeln!(out, "{inner}}}");
            }
            None => {
                let _ = writeln!(out, "{inner}{}", field_line(&field));
            }
        }
    }
    let _ = write!(out, "{indent}}}");
    out
}

fn field_line(field: &FieldDescriptor) -> String {
    let proto = field.field_descriptor_proto();
    let ty = match field.kind() {
        prost_reflect::Kind::Message(entry) if field.is_map() => {
            let key = entry.map_entry_key_field();
            let value = entry.map_entry_value_field();
            format!(
                "map<{}, {}>",
                type_name(key.field_descriptor_proto()),
                type_name(value.field_descriptor_proto())
            )
        }
        _ => {
            let label = match proto.label() {
                Label::Repeated => "repeated ",
                Label::Optional if proto.proto3_optional() => "optional ",
                Label::Optional
                    if field.parent_file().syntax() == prost_reflect::Syntax::Proto2 =>
                {
                    "optional "
                }
                Label::Required => "required ",
                _ => "",
            };
            format!("{label}{}", type_name(proto))
        }
    };
    format!("{ty} {} = {};", field.name(), field.number())
}

/// A field's type as proto source names it: the scalar's name, or `.pkg.Type`.
fn type_name(proto: &prost_types::FieldDescriptorProto) -> String {
    match proto.r#type() {
        Type::Message | Type::Enum | Type::Group => proto.type_name().to_owned(),
        scalar => scalar
            .as_str_name()
            .trim_start_matches("TYPE_")
            .to_ascii_lowercase(),
    }
}

fn enumeration(e: &EnumDescriptor, indent: &str) -> String {
    let mut out = format!("{indent}enum {} {{\n", e.name());
    for value in e.values() {
        let _ = writeln!(out, "{indent}  {} = {};", value.name(), value.number());
    }
    let _ = write!(out, "{indent}}}");
    out
}
