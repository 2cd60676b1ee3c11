//! user-service: a `wasi:http/incoming-handler` component that serves a user directory as
//! HTTP/JSON, backed by the gRPC `users.UserService` (`proto/users.proto`).
//!
//! - `GET /users/{id}` → `GetUser` → `200` with `{"id", "name", "email"}`;
//! - `POST /users` with `{"name", "email"}` → `CreateUser` → `201` with the user and a
//!   `location: /users/{id}` header;
//! - `GET /users` → `ListUsers` (server streaming) → `200` with a JSON array of every user.
//!
//! A failed call answers with the HTTP status of its gRPC code (`google/rpc/code.proto`'s HTTP
//! mapping: `NOT_FOUND` → 404, `INVALID_ARGUMENT` → 400, `UNAVAILABLE` → 503, …) and an
//! RFC 9457 problem body (`application/problem+json`): `{"type": "about:blank", "title":
//! "NOT_FOUND", "status": 404, "detail": MESSAGE}`, with the status's rich details
//! (`grpc-status-details-bin`) as extension members: a `google.rpc.ResourceInfo` as
//! `"resource": {"type", "name", "description"}`, a `google.rpc.BadRequest` as
//! `"invalid-params": [{"name": FIELD, "reason": DESCRIPTION}, …]` (RFC 9457 §3's example).
//! A body that is not such JSON is a 400 problem, an unknown path a 404, another method a 405.
//!
//! Configuration, from the environment: `GRPC_BACKEND` (default `http://127.0.0.1:50051`) and
//! `GRPC_TRANSPORT` (`wasi-http`, the default; `grpc-web`; `sockets`; another name makes every
//! request a 400 naming the three).

use grpc_wasi::rich_status::ErrorDetail;
use grpc_wasi::{Channel, Status, Transport};
use serde::{Deserialize, Serialize};
use wstd::http::{Body, Error, HeaderValue, Method, Request, Response, StatusCode};

mod users {
    #![allow(missing_docs, clippy::all)]
    grpc_wasi::include_proto!("users");
}

use users::user_service_client::UserServiceClient;
use users::{CreateUserRequest, GetUserRequest, ListUsersRequest, User};

/// A user as JSON.
#[derive(Serialize)]
struct UserJson {
    id: String,
    name: String,
    email: String,
}

impl From<User> for UserJson {
    fn from(User { id, name, email }: User) -> Self {
        UserJson { id, name, email }
    }
}

/// The JSON of `POST /users`.
#[derive(Deserialize)]
struct NewUser {
    name: String,
    email: String,
}

/// What a path names.
enum Route {
    /// `/users`: every user; where new ones are posted.
    Users,
    /// `/users/{id}`.
    User(String),
}

/// The route of `path`, if it has one.
fn route(path: &str) -> Option<Route> {
    match path.strip_prefix("/users")? {
        "" | "/" => Some(Route::Users),
        rest => {
            let id = rest.strip_prefix('/')?;
            (!id.is_empty() && !id.contains('/')).then(|| Route::User(id.to_owned()))
        }
    }
}

#[wstd::http_server]
async fn main(mut request: Request<Body>) -> Result<Response<Body>, Error> {
    let result = match (route(request.uri().path()), request.method().clone()) {
        (None, _) => return problem(404, "NOT_FOUND", "no such route", &[]),
        (Some(Route::Users), Method::GET) => list().await,
        (Some(Route::Users), Method::POST) => match request.body_mut().json::<NewUser>().await {
            Ok(new) => create(new).await,
            Err(e) => return problem(400, "INVALID_ARGUMENT", &format!("invalid JSON: {e}"), &[]),
        },
        (Some(Route::Users), _) => {
            return problem(405, "METHOD_NOT_ALLOWED", "use GET or POST", &[]);
        }
        (Some(Route::User(id)), Method::GET) => get(&id).await,
        (Some(Route::User(_)), _) => return problem(405, "METHOD_NOT_ALLOWED", "use GET", &[]),
    };
    match result {
        Ok(response) => Ok(response),
        Err(status) => problem_of(&status),
    }
}

/// The client of the backend the environment names.
async fn client() -> Result<UserServiceClient, Status> {
    let backend =
        std::env::var("GRPC_BACKEND").unwrap_or_else(|_| "http://127.0.0.1:50051".to_owned());
    let transport = match std::env::var("GRPC_TRANSPORT") {
        Ok(name) => name.parse()?,
        Err(_) => Transport::WasiHttp,
    };
    let channel = Channel::from_shared(backend)?
        .transport(transport)
        .connect()
        .await?;
    Ok(UserServiceClient::new(channel))
}

async fn get(id: &str) -> Result<Response<Body>, Status> {
    let request = GetUserRequest { id: id.to_owned() };
    let user = client().await?.get_user(request).await?.into_inner();
    json(200, &UserJson::from(user)).map_err(internal)
}

async fn create(new: NewUser) -> Result<Response<Body>, Status> {
    let request = CreateUserRequest {
        name: new.name,
        email: new.email,
    };
    let user = client().await?.create_user(request).await?.into_inner();
    let location = HeaderValue::try_from(format!("/users/{}", user.id))
        .map_err(|e| Status::internal(format!("location: {e}")))?;
    let mut response = json(201, &UserJson::from(user)).map_err(internal)?;
    response.headers_mut().insert("location", location);
    Ok(response)
}

async fn list() -> Result<Response<Body>, Status> {
    let mut stream = client()
        .await?
        .list_users(ListUsersRequest {})
        .await?
        .into_inner();
    let mut users = Vec::new();
    while let Some(user) = stream.message().await? {
        users.push(UserJson::from(user));
    }
    json(200, &users).map_err(internal)
}

fn internal(e: Error) -> Status {
    Status::internal(format!("encoding the response: {e}"))
}

/// `value` as a JSON response with `status`.
fn json(status: u16, value: &impl Serialize) -> Result<Response<Body>, Error> {
    respond(status, "application/json", Body::from_json(value)?)
}

fn respond(status: u16, content_type: &'static str, body: Body) -> Result<Response<Body>, Error> {
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static(content_type));
    Ok(response)
}

/// The RFC 9457 problem response of a failed call: its code's HTTP status, and its rich
/// details as extension members (details that do not decode are left out).
fn problem_of(status: &Status) -> Result<Response<Body>, Error> {
    let mut extensions = Vec::new();
    for detail in status.error_details().unwrap_or_default() {
        match detail {
            ErrorDetail::ResourceInfo(info) => extensions.push((
                "resource",
                serde_json::json!({
                    "type": info.resource_type,
                    "name": info.resource_name,
                    "description": info.description,
                }),
            )),
            ErrorDetail::BadRequest(bad) => {
                let params: Vec<_> = bad
                    .field_violations
                    .into_iter()
                    .map(|v| serde_json::json!({"name": v.field, "reason": v.description}))
                    .collect();
                extensions.push(("invalid-params", serde_json::Value::from(params)));
            }
            _ => {}
        }
    }
    let code = status.code();
    problem(
        code.http_status(),
        code.name(),
        status.message(),
        &extensions,
    )
}

/// An `application/problem+json` response (RFC 9457 §3): `type` `about:blank`, `title` the
/// gRPC code's name, `status`, `detail`, and `extensions`.
fn problem(
    status: u16,
    title: &str,
    detail: &str,
    extensions: &[(&str, serde_json::Value)],
) -> Result<Response<Body>, Error> {
    let mut body = serde_json::json!({
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    });
    if let Some(members) = body.as_object_mut() {
        for (name, value) in extensions {
            members.insert((*name).to_owned(), value.clone());
        }
    }
    respond(status, "application/problem+json", Body::from_json(&body)?)
}
