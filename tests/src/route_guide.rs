//! tonic's RouteGuide example client in a guest (`tests/route-guide-client`): where it
//! connects, and what it must print.

use grpc_wasi_harness::servers::route_guide_server::{self, ROUTE_CHAT_NOTES};

/// Where tonic's example client connects (`http://[::1]:10000`, unchanged in the port): the
/// RouteGuide server listens there in the tests that run it.
pub const ROUTE_GUIDE_ADDR: &str = "[::1]:10000";

/// Checks the example's output: the feature at its point, every feature of its rectangle, a
/// summary of its random route, and the server's answers to its notes.
#[track_caller]
pub fn check_route_guide_output(stdout: &str) {
    let features = route_guide_server::features().unwrap_or_else(|e| panic!("{e:#}"));
    let in_rectangle = features
        .iter()
        .filter(|f| {
            let Some(p) = f.location.as_ref() else {
                return false;
            };
            (400_000_000..=420_000_000).contains(&p.latitude)
                && (-750_000_000..=-730_000_000).contains(&p.longitude)
        })
        .count();
    assert!(
        in_rectangle > 10,
        "the database has {in_rectangle} features in the rectangle"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
    let response = lines
        .iter()
        .find(|l| l.starts_with("RESPONSE = "))
        .unwrap_or_else(|| {
            panic!("no RESPONSE line:\n{stdout}");
        });
    assert!(
        response.contains(
            r#"Feature { name: "Berkshire Valley Management Area Trail, Jefferson, NJ, USA", location: Some(Point { latitude: 409146138, longitude: -746188906 }) }"#
        ),
        "{response}"
    );
    assert_eq!(count("FEATURE = "), in_rectangle, "{stdout}");
    let traversing = lines
        .iter()
        .find_map(|l| l.strip_prefix("Traversing ")?.strip_suffix(" points"))
        .unwrap_or_else(|| panic!("no Traversing line:\n{stdout}"));
    let summary = format!("SUMMARY: RouteSummary {{ point_count: {traversing}, ");
    assert_eq!(count(&summary), 1, "{stdout}");
    // One note a second at a new location each time: the server answers each with itself.
    assert_eq!(
        count("NOTE = RouteNote { location: Some(Point { latitude: 4091461"),
        ROUTE_CHAT_NOTES,
        "{stdout}"
    );
    for section in [
        "SIMPLE RPC",
        "SERVER STREAMING",
        "CLIENT STREAMING",
        "BIDIRECTIONAL STREAMING",
    ] {
        assert_eq!(count(&format!("*** {section} ***")), 1, "{stdout}");
    }
}
