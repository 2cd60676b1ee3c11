//! gRPC server reflection (feature `reflection`): a client of `grpc.reflection.v1`
//! (`grpc/reflection/v1/reflection.proto`, gRPC's "gRPC Server Reflection Protocol" document,
//! `doc/server-reflection.md`) that falls back to `grpc.reflection.v1alpha` for servers that
//! have only that one (grpc-go's and tonic's older releases, grpcurl's default).
//!
//! ```no_run
//! # async fn f() -> Result<(), grpc_wasi::Status> {
//! use grpc_wasi::reflection::ReflectionClient;
//! let channel = grpc_wasi::Endpoint::from_static("http://127.0.0.1:50051").connect().await?;
//! let mut reflection = ReflectionClient::new(channel);
//! for service in reflection.list_services().await? {
//!     let files = reflection.file_containing_symbol(&service).await?;
//!     println!("{service}: {} files", files.file.len());
//! }
//! # Ok(()) }
//! ```

use prost::Message;
use prost_types::{FileDescriptorProto, FileDescriptorSet};

use crate::status::Status;
use crate::transport::Channel;
use v1::server_reflection_request::MessageRequest;
use v1::server_reflection_response::MessageResponse;
use v1::{ServerReflectionRequest, ServerReflectionResponse};

/// The `grpc.reflection.v1` messages and client, generated from
/// `proto/grpc/reflection/v1/reflection.proto`.
#[allow(missing_docs, clippy::all)]
pub mod v1 {
    include!("grpc_reflection_v1.rs");
}

/// The `grpc.reflection.v1alpha` messages and client (the same messages as `v1`'s, under the
/// older package name), generated from `proto/grpc/reflection/v1alpha/reflection.proto`.
#[allow(missing_docs, clippy::all)]
pub mod v1alpha {
    include!("grpc_reflection_v1alpha.rs");
}

/// Which reflection service the server answered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `grpc.reflection.v1.ServerReflection`.
    V1,
    /// `grpc.reflection.v1alpha.ServerReflection`.
    V1Alpha,
}

/// A reflection client: each question is one `ServerReflectionInfo` call with one request.
/// The first question goes to `v1`; if the server answers `UNIMPLEMENTED`, it and every later
/// one go to `v1alpha`.
#[derive(Debug, Clone)]
pub struct ReflectionClient {
    channel: Channel,
    /// The version that answered, once one has.
    version: Option<Version>,
}

impl ReflectionClient {
    /// A client on `channel`.
    pub fn new(channel: Channel) -> ReflectionClient {
        ReflectionClient {
            channel,
            version: None,
        }
    }

    /// The version that has answered so far (`None` before the first answer).
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// The full names of the services the server has (`list_services`), in its order.
    ///
    /// Errors: the call's status (`Unimplemented` if the server has neither reflection
    /// service); the server's `error_response` as a status of its code; `Internal` for an
    /// answer of another kind.
    pub async fn list_services(&mut self) -> Result<Vec<String>, Status> {
        match self
            .ask(MessageRequest::ListServices(String::new()))
            .await?
        {
            MessageResponse::ListServicesResponse(list) => {
                Ok(list.service.into_iter().map(|s| s.name).collect())
            }
            other => Err(unexpected("list_services", &other)),
        }
    }

    /// The file that defines `symbol` (a service, method, message, enum or extension, by full
    /// name such as `grpc.examples.echo.Echo`) and, transitively, the files it imports: a set
    /// that `prost-reflect`'s `DescriptorPool::from_file_descriptor_set` takes. Files the
    /// server sent but which are not needed come too; a dependency it left out is asked for
    /// by name (`file_by_filename`).
    ///
    /// Errors: as [`ReflectionClient::list_services`]; `NotFound` (the server's) for an
    /// unknown symbol; `Internal` for a file descriptor that does not decode.
    pub async fn file_containing_symbol(
        &mut self,
        symbol: &str,
    ) -> Result<FileDescriptorSet, Status> {
        let mut files = self
            .files(MessageRequest::FileContainingSymbol(symbol.to_owned()))
            .await?;
        // Dependencies the server did not send, asked for by name until none is missing.
        loop {
            let missing = files
                .iter()
                .flat_map(|f| f.dependency.iter())
                .find(|d| !files.iter().any(|f| f.name() == d.as_str()))
                .cloned();
            let Some(missing) = missing else { break };
            let more = self
                .files(MessageRequest::FileByFilename(missing.clone()))
                .await?;
            if !more.iter().any(|f| f.name() == missing) {
                return Err(Status::internal(format!(
                    "reflection: the server sent no file {missing:?} when asked for it"
                )));
            }
            for file in more {
                if !files.iter().any(|f| f.name() == file.name()) {
                    files.push(file);
                }
            }
        }
        Ok(FileDescriptorSet { file: files })
    }

    /// The file descriptors of one `file_descriptor_response`.
    async fn files(&mut self, request: MessageRequest) -> Result<Vec<FileDescriptorProto>, Status> {
        match self.ask(request).await? {
            MessageResponse::FileDescriptorResponse(response) => response
                .file_descriptor_proto
                .iter()
                .map(|bytes| {
                    FileDescriptorProto::decode(bytes.as_slice()).map_err(|e| {
                        Status::internal(format!(
                            "reflection: a file descriptor does not decode: {e}"
                        ))
                    })
                })
                .collect(),
            other => Err(unexpected("a file descriptor request", &other)),
        }
    }

    /// One question, on the version that answered before, or `v1` then `v1alpha`.
    async fn ask(&mut self, request: MessageRequest) -> Result<MessageResponse, Status> {
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(request),
        };
        let response = match self.version {
            Some(Version::V1) => self.ask_v1(request).await?,
            Some(Version::V1Alpha) => self.ask_v1alpha(request).await?,
            None => match self.ask_v1(request.clone()).await {
                Ok(response) => {
                    self.version = Some(Version::V1);
                    response
                }
                Err(status) if status.code() == crate::Code::Unimplemented => {
                    let response = self.ask_v1alpha(request).await?;
                    self.version = Some(Version::V1Alpha);
                    response
                }
                Err(status) => return Err(status),
            },
        };
        match response.message_response {
            Some(MessageResponse::ErrorResponse(error)) => Err(Status::new(
                crate::Code::from_i32(error.error_code),
                error.error_message,
            )),
            Some(response) => Ok(response),
            None => Err(Status::internal("reflection: an answer without a message")),
        }
    }

    async fn ask_v1(
        &self,
        request: ServerReflectionRequest,
    ) -> Result<ServerReflectionResponse, Status> {
        let mut client =
            v1::server_reflection_client::ServerReflectionClient::new(self.channel.clone());
        let answers = client
            .server_reflection_info(futures_lite::stream::once(request))
            .await?;
        first_answer(answers.into_inner()).await
    }

    /// `request` on v1alpha: the same messages under another package, so the same bytes.
    async fn ask_v1alpha(
        &self,
        request: ServerReflectionRequest,
    ) -> Result<ServerReflectionResponse, Status> {
        let recode = |e: prost::DecodeError| Status::internal(format!("reflection: {e}"));
        let request = v1alpha::ServerReflectionRequest::decode(request.encode_to_vec().as_slice())
            .map_err(recode)?;
        let mut client =
            v1alpha::server_reflection_client::ServerReflectionClient::new(self.channel.clone());
        let answers = client
            .server_reflection_info(futures_lite::stream::once(request))
            .await?;
        let answer = first_answer(answers.into_inner()).await?;
        ServerReflectionResponse::decode(answer.encode_to_vec().as_slice()).map_err(recode)
    }
}

/// The first message of a `ServerReflectionInfo` call (the answer to its one request).
///
/// Errors: the call's status; `Internal` if the call ended without a message.
async fn first_answer<T: Message + Default>(mut answers: crate::Streaming<T>) -> Result<T, Status> {
    answers
        .message()
        .await?
        .ok_or_else(|| Status::internal("reflection: the server sent no answer"))
}

/// An answer of the wrong kind for `question`.
fn unexpected(question: &str, answer: &MessageResponse) -> Status {
    let kind = match answer {
        MessageResponse::FileDescriptorResponse(_) => "file_descriptor_response",
        MessageResponse::AllExtensionNumbersResponse(_) => "all_extension_numbers_response",
        MessageResponse::ListServicesResponse(_) => "list_services_response",
        MessageResponse::ErrorResponse(_) => "error_response",
    };
    Status::internal(format!("reflection: {question} was answered with {kind}"))
}
