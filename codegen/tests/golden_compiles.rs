//! The golden files are real code: this test builds them against grpc-wasi and checks the
//! generated API has the shapes users rely on.

#![allow(missing_docs)]

pub mod grpc {
    pub mod examples {
        pub mod echo {
            include!("golden/grpc.examples.echo.rs");
        }
    }
}

pub mod acme {
    pub mod shop {
        pub mod v1 {
            include!("golden/acme.shop.v1.rs");
        }
    }
}

/// `package async;`: module `r#async`, file `async.rs`.
pub mod r#async {
    include!("golden/async.rs");
}

/// rpcs named after client methods.
pub mod clash {
    include!("golden/clash.rs");
}

use acme::shop::v1::{
    Item, ItemQuery, Receipt, http_admin_client::HttpAdminClient,
    shop_service_client::ShopServiceClient,
};
use grpc::examples::echo::{EchoRequest, EchoResponse, echo_client::EchoClient};
use grpc_wasi::{Channel, Response, Status, Streaming};

// Each signature below is checked by the compiler: a generated method of another shape fails
// to build this test.
#[allow(dead_code)]
async fn shapes(channel: Channel) -> Result<(), Status> {
    let mut echo = EchoClient::new(channel.clone()).max_decoding_message_size(1 << 20);
    let _: Response<EchoResponse> = echo.unary_echo(EchoRequest::default()).await?;
    let _: Response<Streaming<EchoResponse>> = echo
        .server_streaming_echo(grpc_wasi::Request::new(EchoRequest::default()))
        .await?;
    let requests = futures_lite::stream::iter(vec![EchoRequest::default()]);
    let _: Response<EchoResponse> = echo.client_streaming_echo(requests).await?;
    let requests = futures_lite::stream::iter(vec![EchoRequest::default()]);
    let _: Response<Streaming<EchoResponse>> = echo.bidirectional_streaming_echo(requests).await?;

    let mut shop = ShopServiceClient::new(channel.clone());
    let _: Response<Streaming<Item>> = shop.list_items(ItemQuery::default()).await?;
    let _: Response<Receipt> = shop
        .place_order(futures_lite::stream::empty::<Item>())
        .await?;
    let _: Response<()> = shop.ping(()).await?;
    // `option deprecated = true` makes the method #[deprecated]: a caller must allow it.
    #[allow(deprecated)]
    let _: Response<()> = shop.old_ping(()).await?;
    // A request stream of StreamMessage values: per-message compression.
    let requests =
        futures_lite::stream::iter([grpc_wasi::StreamMessage::uncompressed(Item::default())]);
    let _: Response<Receipt> = shop.place_order(requests).await?;
    let _: Response<r#async::Job> = r#async::queue_client::QueueClient::new(channel.clone())
        .push(r#async::Job::default())
        .await?;
    let _: Response<Item> = HttpAdminClient::new(channel)
        .get_item(ItemQuery::default())
        .await?;
    Ok(())
}

// tonic's client API, as tonic's examples write it: `connect(dst)`, the `Client<Channel>` type
// path, FnMut closures and `Interceptor` types as interceptors.
#[allow(dead_code)]
async fn tonic_shapes() -> Result<(), Box<dyn std::error::Error>> {
    use grpc_wasi::metadata::{AsciiMetadataValue, MetadataValue};
    use grpc_wasi::service::Interceptor;
    use grpc_wasi::transport::{Channel, Endpoint};

    async fn takes(client: &mut EchoClient<Channel>) -> Result<(), Box<dyn std::error::Error>> {
        client.unary_echo(EchoRequest::default()).await?;
        Ok(())
    }
    let mut client = EchoClient::connect("http://[::1]:10000").await?;
    takes(&mut client).await?;
    let _: EchoClient = EchoClient::connect(String::from("http://[::1]:10000")).await?;
    let _ = EchoClient::connect(Endpoint::from_static("http://[::1]:10000")).await?;

    let channel = Endpoint::from_static("http://[::1]:10000").connect_lazy();
    let token: MetadataValue<_> = "Bearer some-auth-token".parse()?;
    let mut calls = 0u64;
    let mut counted =
        EchoClient::with_interceptor(channel.clone(), move |mut req: grpc_wasi::Request<()>| {
            calls += 1; // FnMut
            req.metadata_mut().insert("authorization", token.clone())?;
            req.metadata_mut().insert("x-call", calls)?;
            Ok(req)
        });
    takes(&mut counted).await?;

    struct Auth(AsciiMetadataValue);
    impl Interceptor for Auth {
        fn call(
            &mut self,
            mut request: grpc_wasi::Request<()>,
        ) -> Result<grpc_wasi::Request<()>, Status> {
            request.metadata_mut().insert("authorization", &self.0)?;
            Ok(request)
        }
    }
    let _ = EchoClient::with_interceptor(channel.clone(), Auth(MetadataValue::from_static("t")));

    // rpcs named after client methods: renamed with `_rpc`; `Connect` keeps `connect`.
    let mut clash = clash::clash_client::ClashClient::new(channel);
    let _: Response<clash::Msg> = clash.new_rpc_rpc(clash::Msg::default()).await?;
    let _: Response<clash::Msg> = clash.new_rpc(clash::Msg::default()).await?;
    let _: Response<clash::Msg> = clash.connect(clash::Msg::default()).await?;
    let _: Response<clash::Msg> = clash.send_compressed_rpc(clash::Msg::default()).await?;
    let _: Response<clash::Msg> = clash.clone_rpc(clash::Msg::default()).await?;
    let requests = futures_lite::stream::iter(vec![clash::Msg::default()]);
    let _: Response<Streaming<clash::Msg>> = clash.into_rpc(requests).await?;
    let _: clash::clash_client::ClashClient = clash.clone().max_decoding_message_size(1);
    Ok(())
}

#[test]
fn generated_code_builds_with_the_expected_names() {
    let item = Item {
        sku: "a".into(),
        price_cents: 1,
        note: Some("n".into()),
        listed_at: None,
    };
    assert_eq!(item.note.as_deref(), Some("n"));
}
