//! Random geo commands: GEOADD with positions clustered around a few cities (so searches find
//! something), on the Mercator and date-line edges, and out of range; GEOPOS, GEODIST,
//! GEOHASH; and the search family (GEOSEARCH, GEOSEARCHSTORE, GEORADIUS, GEORADIUSBYMEMBER and
//! the `_RO` forms) with every option, radii from zero to half the planet, boxes, units,
//! COUNT with and without ANY, and malformed arguments.

use super::{Cmd, Gen};
use crate::cmd;
use rand::RngExt;

/// Keys the geo generator writes (a subset of the shared pool, plus its own).
pub const GEO_KEYS: [&str; 4] = ["a", "b", "{t}x", "geo"];

fn key(g: &mut Gen) -> Vec<u8> {
    g.pick(&GEO_KEYS).as_bytes().to_vec()
}

fn member(g: &mut Gen) -> Vec<u8> {
    format!("m{}", g.range(0, 40)).into_bytes()
}

const CITIES: [(f64, f64); 5] = [
    (13.361389, 38.115556),
    (-73.9857, 40.7484),
    (151.2093, -33.8688),
    (179.99, 0.5),
    (2.3522, 48.8566),
];

/// A longitude/latitude pair as arguments.
fn position(g: &mut Gen) -> [Vec<u8>; 2] {
    let (lon, lat): (String, String) = match g.range(0, 20) {
        0 => (
            g.pick(&["180", "-180", "0", "181", "-180.0000001"])
                .to_string(),
            g.pick(&["85.05112878", "-85.05112878", "85.05112879", "0", "-90"])
                .to_string(),
        ),
        1 => (
            g.pick(&["x", "nan", "inf", ""]).to_string(),
            "10".to_string(),
        ),
        2 | 3 => (
            format!("{:.6}", g.rng.random_range(-180.0..180.0)),
            format!("{:.6}", g.rng.random_range(-85.0..85.0)),
        ),
        _ => {
            let (clon, clat) = *g.pick(&CITIES);
            let lon: f64 = (clon + g.rng.random_range(-0.5..0.5)).clamp(-180.0, 180.0);
            (
                format!("{:.6}", lon),
                format!("{:.6}", clat + g.rng.random_range(-0.5..0.5)),
            )
        }
    };
    [lon.into_bytes(), lat.into_bytes()]
}

fn unit(g: &mut Gen) -> Vec<u8> {
    g.pick(&["m", "km", "KM", "mi", "ft", "km", "km", "yd"])
        .as_bytes()
        .to_vec()
}

fn distance(g: &mut Gen) -> Vec<u8> {
    match g.range(0, 14) {
        0 => g
            .pick(&["0", "-1", "x", "inf", "20000000"])
            .as_bytes()
            .to_vec(),
        1 => g.pick(&["5000", "12000"]).as_bytes().to_vec(),
        _ => format!("{}", g.range(1, 300)).into_bytes(),
    }
}

/// The trailing options of a search command.
fn options(g: &mut Gen, c: &mut Cmd, with: bool, store: bool) {
    for _ in 0..g.range(0, 4) {
        match g.range(0, 9) {
            0 if with => c.push(b"WITHDIST".to_vec()),
            1 if with => c.push(b"WITHCOORD".to_vec()),
            2 if with => c.push(b"WITHHASH".to_vec()),
            3 => c.push(g.pick(&["ASC", "DESC"]).as_bytes().to_vec()),
            4 | 5 => {
                c.push(b"COUNT".to_vec());
                c.push(
                    g.pick(&["1", "2", "3", "10", "0", "-1", "x"])
                        .as_bytes()
                        .to_vec(),
                );
                if g.chance(30) {
                    c.push(b"ANY".to_vec());
                }
            }
            6 if store => {
                c.push(g.pick(&["STORE", "STOREDIST"]).as_bytes().to_vec());
                c.push(key(g));
            }
            7 if g.chance(20) => c.push(g.pick(&["ANY", "FOO", "STORE"]).as_bytes().to_vec()),
            _ => {}
        }
    }
}

fn search_shape(g: &mut Gen, c: &mut Cmd) {
    let from = g.range(0, 9);
    if from < 4 {
        c.push(b"FROMMEMBER".to_vec());
        c.push(member(g));
    } else if from < 8 {
        c.push(b"FROMLONLAT".to_vec());
        c.extend(position(g));
    }
    match g.range(0, 9) {
        0..=3 => {
            c.push(b"BYRADIUS".to_vec());
            c.push(distance(g));
            c.push(unit(g));
        }
        4..=7 => {
            c.push(b"BYBOX".to_vec());
            c.push(distance(g));
            c.push(distance(g));
            c.push(unit(g));
        }
        _ => {}
    }
}

/// Geo-family commands.
pub fn geo(g: &mut Gen) -> Cmd {
    let k = key(g);
    match g.range(0, 20) {
        0..=5 => {
            let mut c = cmd!("GEOADD", k);
            if g.chance(15) {
                c.push(g.pick(&["NX", "XX", "CH", "nx"]).as_bytes().to_vec());
            }
            for _ in 0..g.range(1, 4) {
                c.extend(position(g));
                c.push(member(g));
            }
            if g.chance(5) {
                c.pop();
            }
            c
        }
        6 => {
            let mut c = cmd!("GEOPOS", k);
            for _ in 0..g.range(0, 3) {
                c.push(member(g));
            }
            c
        }
        7 => {
            let mut c = cmd!("GEODIST", k, member(g), member(g));
            if g.chance(60) {
                c.push(unit(g));
            }
            c
        }
        8 => {
            let mut c = cmd!("GEOHASH", k);
            for _ in 0..g.range(0, 3) {
                c.push(member(g));
            }
            c
        }
        9..=11 => {
            let mut c = cmd!("GEOSEARCH", k);
            search_shape(g, &mut c);
            options(g, &mut c, true, false);
            c
        }
        12 | 13 => {
            let mut c = cmd!("GEOSEARCHSTORE", key(g), k);
            search_shape(g, &mut c);
            let with = g.chance(10);
            options(g, &mut c, with, false);
            if g.chance(40) {
                c.push(b"STOREDIST".to_vec());
            }
            c
        }
        14 | 15 => {
            let name = *g.pick(&["GEORADIUS", "GEORADIUS_RO"]);
            let mut c = cmd!(name, k);
            c.extend(position(g));
            c.push(distance(g));
            c.push(unit(g));
            let with = !g.chance(20);
            options(g, &mut c, with, name == "GEORADIUS");
            c
        }
        16 | 17 => {
            let name = *g.pick(&["GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO"]);
            let mut c = cmd!(name, k, member(g), distance(g), unit(g));
            let with = !g.chance(20);
            options(g, &mut c, with, name == "GEORADIUSBYMEMBER");
            c
        }
        18 => cmd!("ZRANGE", k, "0", "-1", "WITHSCORES"),
        _ => cmd!("ZREM", k, member(g)),
    }
}
