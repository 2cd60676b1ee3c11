//! A tonic server for `routeguide.RouteGuide` (gRPC's RouteGuide example, `proto/routeguide/`),
//! serving tonic's example feature database (`data/route_guide_db.json`), for the tonic
//! client port in `tests/route-guide-client`.
//!
//! As tonic's example server, except that `RouteChat` ends the call (OK) after
//! [`ROUTE_CHAT_NOTES`] notes, so a client that sends notes for ever (tonic's example client
//! does) finishes: each note is answered with every note received so far at its location.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures_lite::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::route_guide_proto::route_guide_server::{RouteGuide, RouteGuideServer};
use crate::route_guide_proto::{Feature, Point, Rectangle, RouteNote, RouteSummary};
use crate::servers::test_server::{Incoming, Serve, Shutdown, TestServer};

/// How many notes a `RouteChat` call takes before the server ends it.
pub const ROUTE_CHAT_NOTES: usize = 3;

/// tonic's example database: 100 named and unnamed features in New Jersey and New York.
const DATABASE: &str = include_str!("../../data/route_guide_db.json");

/// The features of [`DATABASE`].
///
/// Errors: the JSON does not have tonic's shape.
pub fn features() -> anyhow::Result<Vec<Feature>> {
    let json: serde_json::Value = serde_json::from_str(DATABASE)?;
    let entries = json
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("the database is not a list"))?;
    entries
        .iter()
        .map(|entry| {
            let coordinate = |name: &str| {
                entry["location"][name]
                    .as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| anyhow::anyhow!("a feature without location.{name}"))
            };
            Ok(Feature {
                name: entry["name"].as_str().unwrap_or_default().to_owned(),
                location: Some(Point {
                    latitude: coordinate("latitude")?,
                    longitude: coordinate("longitude")?,
                }),
            })
        })
        .collect()
}

struct RouteGuideImpl {
    features: Arc<Vec<Feature>>,
}

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl RouteGuide for RouteGuideImpl {
    async fn get_feature(&self, request: Request<Point>) -> Result<Response<Feature>, Status> {
        let point = request.into_inner();
        let feature = self
            .features
            .iter()
            .find(|f| f.location.as_ref() == Some(&point))
            .cloned()
            .unwrap_or_default();
        Ok(Response::new(feature))
    }

    type ListFeaturesStream = ResponseStream<Feature>;

    async fn list_features(
        &self,
        request: Request<Rectangle>,
    ) -> Result<Response<Self::ListFeaturesStream>, Status> {
        let rectangle = request.into_inner();
        let (Some(lo), Some(hi)) = (rectangle.lo, rectangle.hi) else {
            return Err(Status::invalid_argument("a rectangle needs lo and hi"));
        };
        let inside: Vec<_> = self
            .features
            .iter()
            .filter(|f| f.location.as_ref().is_some_and(|p| in_range(p, &lo, &hi)))
            .cloned()
            .map(Ok)
            .collect();
        Ok(Response::new(Box::pin(futures_lite::stream::iter(inside))))
    }

    async fn record_route(
        &self,
        request: Request<Streaming<Point>>,
    ) -> Result<Response<RouteSummary>, Status> {
        let mut stream = request.into_inner();
        let mut summary = RouteSummary::default();
        let mut last = None;
        let start = Instant::now();
        while let Some(point) = stream.next().await {
            let point = point?;
            summary.point_count += 1;
            let known = self.features.iter();
            summary.feature_count += known
                .filter(|f| f.location.as_ref() == Some(&point))
                .count() as i32;
            if let Some(last) = &last {
                summary.distance += distance(last, &point);
            }
            last = Some(point);
        }
        summary.elapsed_time = start.elapsed().as_secs() as i32;
        Ok(Response::new(summary))
    }

    type RouteChatStream = ResponseStream<RouteNote>;

    async fn route_chat(
        &self,
        request: Request<Streaming<RouteNote>>,
    ) -> Result<Response<Self::RouteChatStream>, Status> {
        let stream = request.into_inner();
        let notes = stream.take(ROUTE_CHAT_NOTES).scan(
            HashMap::<(i32, i32), Vec<RouteNote>>::new(),
            |seen, note| {
                let answer = note.map(|note| {
                    let at = note.location.map(|p| (p.latitude, p.longitude));
                    let here = seen.entry(at.unwrap_or_default()).or_default();
                    here.push(note);
                    here.clone()
                });
                Some(answer)
            },
        );
        let answers = notes.flat_map(|answer| {
            let items: Vec<Result<RouteNote, Status>> = match answer {
                Ok(notes) => notes.into_iter().map(Ok).collect(),
                Err(status) => vec![Err(status)],
            };
            futures_lite::stream::iter(items)
        });
        Ok(Response::new(Box::pin(answers)))
    }
}

fn in_range(point: &Point, lo: &Point, hi: &Point) -> bool {
    let (left, right) = (
        lo.longitude.min(hi.longitude),
        lo.longitude.max(hi.longitude),
    );
    let (bottom, top) = (lo.latitude.min(hi.latitude), lo.latitude.max(hi.latitude));
    (left..=right).contains(&point.longitude) && (bottom..=top).contains(&point.latitude)
}

/// The distance between two points in metres (haversine), as tonic's example computes it.
fn distance(p1: &Point, p2: &Point) -> i32 {
    const COORD_FACTOR: f64 = 1e7;
    const R: f64 = 6_371_000.0;
    let (lat1, lat2) = (
        f64::from(p1.latitude) / COORD_FACTOR,
        f64::from(p2.latitude) / COORD_FACTOR,
    );
    let (lng1, lng2) = (
        f64::from(p1.longitude) / COORD_FACTOR,
        f64::from(p2.longitude) / COORD_FACTOR,
    );
    let (d_lat, d_lng) = ((lat2 - lat1).to_radians(), (lng2 - lng1).to_radians());
    let a = (d_lat / 2.0).sin().powi(2)
        + lat1.to_radians().cos() * lat2.to_radians().cos() * (d_lng / 2.0).sin().powi(2);
    (R * 2.0 * a.sqrt().atan2((1.0 - a).sqrt())) as i32
}

/// Starts the RouteGuide server on `addr`, on its own thread; bound before it returns.
///
/// Errors: the database does not load, the address cannot be bound, or the runtime cannot
/// start.
pub fn start(addr: SocketAddr) -> anyhow::Result<TestServer> {
    let features = Arc::new(features()?);
    TestServer::start(addr, "route-guide-server", move |incoming, stop| {
        serve(incoming, stop, features)
    })
}

fn serve(incoming: Incoming, stop: Shutdown, features: Arc<Vec<Feature>>) -> Serve {
    Box::pin(
        tonic::transport::Server::builder()
            .add_service(RouteGuideServer::new(RouteGuideImpl { features }))
            .serve_with_incoming_shutdown(incoming, stop),
    )
}
