//! A response message kept as its protobuf encoding, for methods known only at run time: the
//! SDK's calls decode into a `prost::Message + Default`, and a `prost_reflect::DynamicMessage`
//! needs its descriptor first, so responses are received as [`Raw`] and decoded after.

use prost::bytes::{Buf, BufMut};
use prost::encoding::{self, DecodeContext, WireType};

/// The fields of a message, re-encoded as they came (field order kept).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Raw(pub Vec<u8>);

impl prost::Message for Raw {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }

    /// Keeps the field. Errors: a field cut short; a group (proto2's deprecated wire types 3
    /// and 4), which this example does not read.
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        match wire_type {
            WireType::Varint => {
                let mut value = 0u64;
                encoding::uint64::merge(wire_type, &mut value, buf, ctx)?;
                encoding::encode_key(tag, wire_type, &mut self.0);
                encoding::encode_varint(value, &mut self.0);
            }
            WireType::SixtyFourBit => {
                let mut value = 0u64;
                encoding::fixed64::merge(wire_type, &mut value, buf, ctx)?;
                encoding::encode_key(tag, wire_type, &mut self.0);
                self.0.put_u64_le(value);
            }
            WireType::ThirtyTwoBit => {
                let mut value = 0u32;
                encoding::fixed32::merge(wire_type, &mut value, buf, ctx)?;
                encoding::encode_key(tag, wire_type, &mut self.0);
                self.0.put_u32_le(value);
            }
            WireType::LengthDelimited => {
                let mut value = Vec::new();
                encoding::bytes::merge(wire_type, &mut value, buf, ctx)?;
                encoding::encode_key(tag, wire_type, &mut self.0);
                encoding::encode_varint(value.len() as u64, &mut self.0);
                self.0.put_slice(&value);
            }
            WireType::StartGroup | WireType::EndGroup => {
                encoding::check_wire_type(WireType::LengthDelimited, wire_type)?;
            }
        }
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use prost::Message;

    use super::Raw;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Sample {
        #[prost(int64, tag = "1")]
        a: i64,
        #[prost(string, tag = "2")]
        b: String,
        #[prost(fixed64, tag = "3")]
        c: u64,
        #[prost(float, tag = "4")]
        d: f32,
    }

    #[test]
    fn every_wire_type_comes_back_as_it_was() {
        let sample = Sample {
            a: -5,
            b: "hi".into(),
            c: 7,
            d: 1.5,
        };
        let bytes = sample.encode_to_vec();
        let raw = Raw::decode(bytes.as_slice()).unwrap();
        assert_eq!(raw.0, bytes);
        assert_eq!(
            Sample::decode(raw.encode_to_vec().as_slice()).unwrap(),
            sample
        );
        assert!(Raw::decode(&bytes[..bytes.len() - 1]).is_err());
    }
}
