//! Differential: geo commands give the same replies on usher and on redis-server 7.0.15, byte
//! for byte: scores written by GEOADD, coordinates printed to 17 decimals, distances to 0.1 mm,
//! 11-character geohashes, and the members a search returns in the order it returns them
//! (sorted or not), in RESP2 and RESP3 (coordinates are doubles there), with one shard and
//! with several (STORE targets then cross shards). Sorted-set and keyspace commands run in
//! between, so searches also meet scores that are not geohashes and keys of other types.

use usher_tests::gen::geo::{geo, GEO_KEYS};
use usher_tests::{diff, gen, Differ, Server};

fn random_sequences_match(usher_args: &[&str], resp3: bool) {
    let usher = Server::usher(usher_args);
    let redis = Server::redis(&[]);
    let seed = diff::seed();
    let mut g = gen::Gen::new(seed);
    let mut d = Differ::new(&usher, &redis);
    if resp3 {
        d.both(&[b"HELLO".to_vec(), b"3".to_vec()]);
    }
    let seq = g.sequence(
        diff::ops(4000),
        &[
            geo,
            geo,
            geo,
            geo,
            geo,
            geo,
            gen::zset::zsets,
            gen::keyspace,
        ],
    );
    d.run_all(&seq, seed);
    for key in GEO_KEYS {
        let c = [
            b"ZRANGE".to_vec(),
            key.as_bytes().to_vec(),
            b"0".to_vec(),
            b"-1".to_vec(),
            b"WITHSCORES".to_vec(),
        ];
        if let Err(m) = d.check(&c) {
            panic!("{}", d.report(&m, Some(seed)));
        }
    }
}

#[test]
fn geo_matches_redis_with_one_shard() {
    random_sequences_match(&["--shards", "1", "--threads", "1"], false);
}

#[test]
fn geo_matches_redis_across_shards() {
    random_sequences_match(&["--shards", "4", "--threads", "2"], false);
}

#[test]
fn geo_matches_redis_in_resp3() {
    random_sequences_match(&["--shards", "2", "--threads", "1"], true);
}

fn args(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|a| a.as_bytes().to_vec()).collect()
}

/// COUNT below the number of matches sorts with Redis's partial quicksort, whose order for
/// equal distances is its own: many members share positions here, in sets large enough for
/// every branch of that sort (median of nine past 40 elements). Also: half-planet radii
/// (neighbour cells repeat), the poles' limits, the date line, and STORE/STOREDIST results.
#[test]
fn geo_ties_and_edges_match_redis() {
    let usher = Server::usher(&["--shards", "1", "--threads", "1"]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    for i in 0..120 {
        let (lon, lat) = match i % 6 {
            0 => ("13.361389", "38.115556"),
            1 => ("13.5", "38.1"),
            2 => ("13.4", "38.2"),
            3 => ("179.999", "38.15"),
            4 => ("-179.999", "38.15"),
            _ => ("13.361389", "38.115556"),
        };
        let m = format!("m{i}");
        d.run(&args(&["GEOADD", "ties", lon, lat, &m]));
    }
    for count in [
        "1", "2", "5", "7", "8", "13", "40", "41", "60", "119", "120", "500",
    ] {
        for order in ["ASC", "DESC"] {
            d.run(&args(&[
                "GEOSEARCH",
                "ties",
                "FROMLONLAT",
                "13.36",
                "38.11",
                "BYRADIUS",
                "50",
                "km",
                "COUNT",
                count,
                order,
                "WITHDIST",
            ]));
            d.run(&args(&[
                "GEOSEARCH",
                "ties",
                "FROMMEMBER",
                "m3",
                "BYBOX",
                "400",
                "300",
                "km",
                "COUNT",
                count,
                order,
            ]));
            d.run(&args(&[
                "GEORADIUS",
                "ties",
                "180",
                "38",
                "5000",
                "km",
                "COUNT",
                count,
                order,
                "WITHHASH",
            ]));
        }
        d.run(&args(&[
            "GEOSEARCH",
            "ties",
            "FROMLONLAT",
            "13.36",
            "38.11",
            "BYRADIUS",
            "50",
            "km",
            "COUNT",
            count,
            "ANY",
        ]));
        d.run(&args(&[
            "GEOSEARCHSTORE",
            "dst",
            "ties",
            "FROMLONLAT",
            "13.36",
            "38.11",
            "BYRADIUS",
            "50",
            "km",
            "COUNT",
            count,
            "STOREDIST",
        ]));
        d.run(&args(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]));
        d.run(&args(&["OBJECT", "ENCODING", "dst"]));
    }
    for c in [
        args(&[
            "GEOSEARCH",
            "ties",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "20000",
            "km",
        ]),
        args(&[
            "GEOSEARCH",
            "ties",
            "FROMLONLAT",
            "0",
            "85.05",
            "BYBOX",
            "40000",
            "1000",
            "km",
            "ASC",
        ]),
        args(&[
            "GEORADIUSBYMEMBER",
            "ties",
            "m4",
            "1",
            "m",
            "WITHCOORD",
            "WITHDIST",
        ]),
        args(&[
            "GEORADIUSBYMEMBER",
            "ties",
            "m4",
            "100",
            "km",
            "STORE",
            "dst2",
        ]),
        args(&["ZRANGE", "dst2", "0", "-1", "WITHSCORES"]),
        args(&[
            "GEOADD",
            "poles",
            "0",
            "85.05112878",
            "n",
            "0",
            "-85.05112878",
            "s",
            "180",
            "0",
            "e",
            "-180",
            "0",
            "w",
        ]),
        args(&["GEOPOS", "poles", "n", "s", "e", "w", "missing"]),
        args(&["GEOHASH", "poles", "n", "s", "e", "w", "missing"]),
        args(&["GEODIST", "poles", "n", "s", "km"]),
        args(&["GEODIST", "poles", "e", "w"]),
        args(&[
            "GEOSEARCH",
            "poles",
            "FROMMEMBER",
            "e",
            "BYRADIUS",
            "1",
            "km",
            "WITHCOORD",
        ]),
        args(&[
            "ZADD",
            "odd",
            "-1",
            "neg",
            "1e300",
            "huge",
            "inf",
            "inf",
            "4503599627370496",
            "bit52",
        ]),
        args(&["GEOPOS", "odd", "neg", "huge", "inf", "bit52"]),
        args(&["GEOHASH", "odd", "neg", "huge", "inf", "bit52"]),
        args(&["GEODIST", "odd", "neg", "bit52"]),
        args(&[
            "GEOSEARCH",
            "odd",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "20000",
            "km",
            "WITHHASH",
        ]),
        args(&[
            "GEOADD", "ties", "XX", "CH", "1", "1", "m0", "2", "2", "new",
        ]),
        args(&["GEOADD", "ties", "NX", "XX", "1", "1", "m0"]),
        args(&["GEOADD", "ties", "1", "1"]),
        args(&["GEOADD", "ties", "200", "1", "x", "1", "1", "y"]),
        args(&["EXISTS", "y"]),
        args(&["SET", "str", "x"]),
        args(&["GEOADD", "str", "1", "1", "m"]),
        args(&[
            "GEOSEARCH",
            "str",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ]),
        args(&[
            "GEOSEARCHSTORE",
            "dst",
            "missing",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ]),
        args(&["EXISTS", "dst"]),
    ] {
        d.run(&c);
    }
}

#[test]
fn geo_command_table_matches_redis() {
    let usher = Server::usher(&[]);
    let redis = Server::redis(&[]);
    diff::assert_command_table_matches(
        &mut usher.client(),
        &mut redis.client(),
        &[
            "geoadd",
            "geopos",
            "geodist",
            "geohash",
            "geosearch",
            "geosearchstore",
            "georadius",
            "georadius_ro",
            "georadiusbymember",
            "georadiusbymember_ro",
        ],
    );
}
