//! A tonic server for `users.UserService` (`proto/users.proto`), for `examples/user-service`:
//! an in-memory directory whose errors carry rich details (`google/rpc/error_details.proto`,
//! in `grpc-status-details-bin`): `GetUser` of an unknown id is `NOT_FOUND` with a
//! `ResourceInfo`, `CreateUser` with an empty name or an email without `@` is
//! `INVALID_ARGUMENT` with a `BadRequest` naming each invalid field. It speaks gRPC-Web too.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::servers::test_server::{Incoming, Serve, Shutdown, TestServer};
use crate::users_proto::user_service_server::{UserService, UserServiceServer};
use crate::users_proto::{CreateUserRequest, GetUserRequest, ListUsersRequest, User};

/// The users, by id (ids are 1, 2, … in creation order, compared as numbers).
#[derive(Default)]
struct Directory {
    users: BTreeMap<u64, User>,
}

struct UsersImpl(Arc<Mutex<Directory>>);

#[tonic::async_trait]
impl UserService for UsersImpl {
    async fn get_user(&self, request: Request<GetUserRequest>) -> Result<Response<User>, Status> {
        let id = request.into_inner().id;
        let directory = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let user = id.parse().ok().and_then(|n: u64| directory.users.get(&n));
        match user {
            Some(user) => Ok(Response::new(user.clone())),
            None => {
                let details = ErrorDetails::with_resource_info(
                    "users.User",
                    &id,
                    "",
                    format!("no user has the id {id:?}"),
                );
                Err(Status::with_error_details(
                    Code::NotFound,
                    format!("user {id:?} not found"),
                    details,
                ))
            }
        }
    }

    async fn create_user(
        &self,
        request: Request<CreateUserRequest>,
    ) -> Result<Response<User>, Status> {
        let CreateUserRequest { name, email } = request.into_inner();
        let mut details = ErrorDetails::new();
        if name.trim().is_empty() {
            details.add_bad_request_violation("name", "must not be empty");
        }
        if !email.contains('@') {
            details.add_bad_request_violation("email", "must contain '@'");
        }
        if details.has_bad_request_violations() {
            return Err(Status::with_error_details(
                Code::InvalidArgument,
                "the user is not valid",
                details,
            ));
        }
        let mut directory = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let id = directory
            .users
            .keys()
            .next_back()
            .map_or(1, |last| last + 1);
        let user = User {
            id: id.to_string(),
            name,
            email,
        };
        directory.users.insert(id, user.clone());
        Ok(Response::new(user))
    }

    type ListUsersStream = tokio_stream::Iter<std::vec::IntoIter<Result<User, Status>>>;

    async fn list_users(
        &self,
        _request: Request<ListUsersRequest>,
    ) -> Result<Response<Self::ListUsersStream>, Status> {
        let directory = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let users: Vec<_> = directory.users.values().cloned().map(Ok).collect();
        Ok(Response::new(tokio_stream::iter(users)))
    }
}

/// Starts the user server on `addr` (port 0 picks a free one) with `users` (name, email) as
/// ids 1, 2, …, on its own thread; bound before it returns.
///
/// Errors: the address cannot be bound, or the runtime cannot start.
pub fn start(addr: SocketAddr, users: &[(&str, &str)]) -> anyhow::Result<TestServer> {
    let mut directory = Directory::default();
    for (n, (name, email)) in (1..).zip(users) {
        let user = User {
            id: n.to_string(),
            name: (*name).to_owned(),
            email: (*email).to_owned(),
        };
        directory.users.insert(n, user);
    }
    let directory = Arc::new(Mutex::new(directory));
    TestServer::start(
        addr,
        "user-server",
        move |incoming: Incoming, stop: Shutdown| -> Serve {
            Box::pin(
                tonic::transport::Server::builder()
                    // gRPC-Web too (tonic-web), for the component's `grpc-web` transport.
                    .accept_http1(true)
                    .layer(tonic_web::GrpcWebLayer::new())
                    .add_service(UserServiceServer::new(UsersImpl(directory)))
                    .serve_with_incoming_shutdown(incoming, stop),
            )
        },
    )
}
