//! The geo family: GEOADD, GEOPOS, GEODIST, GEOHASH, GEOSEARCH, GEOSEARCHSTORE, GEORADIUS,
//! GEORADIUSBYMEMBER and their `_RO` variants, over ordinary sorted sets whose scores are
//! 52-bit geohashes ([`crate::types::geohash`]).
//!
//! Everything follows Redis 7.0.15's `geo.c`: GEOADD turns coordinates into scores and hands
//! the rest to ZADD; a search scans the score ranges of up to nine geohash cells in Redis's
//! order, keeps what lies inside the circle or box, and sorts by distance only when asked
//! (or when COUNT is given without ANY), with a stable sort as glibc's `qsort` is; so even
//! unsorted replies list members in Redis's order. Validation order is Redis's too: the
//! source key's type first, then the centre and extent, then the options left to right, then
//! the combinations, and only then a missing key answers empty.

use crate::args::{self, is};
use crate::cmd::zset::{add_new, get_zset, limits, store_result, zadd_argv};
use crate::command::{cmd, CommandSpec, EngineHandler, Flags, Group, KeyPositions};
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::pqsort::pqsort;
use crate::types::geohash::{self, Extent, Shape};
use crate::types::zset::{ScoreBound, ZSet};
use usher_protocol::argv::OwnedArgv;
use usher_protocol::{errors, Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// Redis's `extractLongLatOrReply`: two floats within the Mercator limits.
fn long_lat(lon: &[u8], lat: &[u8]) -> Result<[f64; 2], CmdError> {
    let (x, y) = (args::float(lon)?, args::float(lat)?);
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&x)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&y)
    {
        return Err(CmdError::Owned(format!(
            "{}{x:.6},{y:.6}",
            errors::GEO_INVALID_PAIR
        )));
    }
    Ok([x, y])
}

/// Redis's `extractUnitOrReply`: meters per unit.
fn unit(arg: &[u8]) -> Result<f64, CmdError> {
    if is(arg, "m") {
        Ok(1.0)
    } else if is(arg, "km") {
        Ok(1000.0)
    } else if is(arg, "ft") {
        Ok(0.3048)
    } else if is(arg, "mi") {
        Ok(1609.34)
    } else {
        Err(CmdError::Static(errors::GEO_UNIT))
    }
}

/// A float argument with the command's own error text.
fn float_or(arg: &[u8], err: &'static str) -> Result<f64, CmdError> {
    args::float(arg).map_err(|_| CmdError::Static(err))
}

/// `extractDistanceOrReply`: radius and unit.
fn radius(value: &[u8], unit_arg: &[u8]) -> Result<(f64, f64), CmdError> {
    let r = float_or(value, errors::GEO_NEED_RADIUS)?;
    if r < 0.0 {
        return Err(CmdError::Static(errors::GEO_RADIUS_NEGATIVE));
    }
    Ok((r, unit(unit_arg)?))
}

/// `extractBoxOrReply`: width, height and unit.
fn box_extent(w: &[u8], h: &[u8], unit_arg: &[u8]) -> Result<(f64, f64, f64), CmdError> {
    let width = float_or(w, errors::GEO_NEED_WIDTH)?;
    let height = float_or(h, errors::GEO_NEED_HEIGHT)?;
    if height < 0.0 || width < 0.0 {
        return Err(CmdError::Static(errors::GEO_BOX_NEGATIVE));
    }
    Ok((width, height, unit(unit_arg)?))
}

/// Redis's `addReplyDoubleDistance`: `%.4f` as a bulk string.
fn reply_distance(out: &mut dyn ReplySink, d: f64) {
    out.bulk(format!("{d:.4}").as_bytes());
}

/// ```text
/// GEOADD key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]
/// ```
fn geoadd(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (mut nx, mut xx, mut first) = (false, false, 2);
    while first < argv.len() {
        let opt = argv.arg(first);
        if is(opt, "NX") {
            nx = true;
        } else if is(opt, "XX") {
            xx = true;
        } else if !is(opt, "CH") {
            break;
        }
        first += 1;
    }
    if !(argv.len() - first).is_multiple_of(3) || (xx && nx) {
        return Err(CmdError::Syntax);
    }
    // ZADD key [options] score member ...
    let mut zadd = OwnedArgv::from_args([b"zadd".as_slice()]);
    for i in 1..first {
        zadd.push(argv.arg(i));
    }
    let mut itoa = itoa::Buffer::new();
    for i in (first..argv.len()).step_by(3) {
        let [lon, lat] = long_lat(argv.arg(i), argv.arg(i + 1))?;
        zadd.push(itoa.format(geohash::score_of(lon, lat)).as_bytes());
        zadd.push(argv.arg(i + 2));
    }
    zadd_argv(ctx, zadd.argv(), out)
}

/// ```text
/// GEOPOS key [member [member ...]]
/// ```
fn geopos(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let scores = member_scores(ctx, argv)?;
    out.array(scores.len());
    for score in scores {
        match score.and_then(geohash::decode_score) {
            Some([lon, lat]) => {
                out.array(2);
                out.double_text(&geohash::human(lon));
                out.double_text(&geohash::human(lat));
            }
            None => out.null_array(),
        }
    }
    Ok(())
}

/// The score of each member named from argument 2 on; None where the key or member is
/// missing. WRONGTYPE if the key is not a sorted set.
fn member_scores(ctx: &mut ExecCtx, argv: Argv) -> Result<Vec<Option<f64>>, CmdError> {
    let now = ctx.now_ms;
    let z = get_zset(ctx.db(argv.arg(1)), argv.arg(1), now)?;
    Ok(argv
        .iter()
        .skip(2)
        .map(|m| z.as_deref().and_then(|z| z.score(m)))
        .collect())
}

/// ```text
/// GEODIST key member1 member2 [M | KM | FT | MI]
/// ```
fn geodist(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let to_meters = match argv.len() {
        4 => 1.0,
        5 => unit(argv.arg(4))?,
        _ => return Err(CmdError::Syntax),
    };
    let now = ctx.now_ms;
    let Some(z) = get_zset(ctx.db(argv.arg(1)), argv.arg(1), now)? else {
        out.null();
        return Ok(());
    };
    let point = |m: &[u8]| z.score(m);
    match (point(argv.arg(2)), point(argv.arg(3))) {
        (Some(s1), Some(s2)) => match (geohash::decode_score(s1), geohash::decode_score(s2)) {
            (Some([x1, y1]), Some([x2, y2])) => {
                reply_distance(out, geohash::distance(x1, y1, x2, y2) / to_meters)
            }
            _ => out.null(),
        },
        _ => out.null(),
    }
    Ok(())
}

/// ```text
/// GEOHASH key [member [member ...]]
/// ```
fn geohash_cmd(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let scores = member_scores(ctx, argv)?;
    out.array(scores.len());
    for score in scores {
        match score.and_then(geohash::standard_geohash) {
            Some(hash) => out.bulk(&hash),
            None => out.null(),
        }
    }
    Ok(())
}

/// Which command of the search family is running (Redis's `RADIUS_*` / `GEOSEARCH*` flags).
#[derive(Clone, Copy, PartialEq)]
enum Search {
    Radius { read_only: bool },
    ByMember { read_only: bool },
    Geosearch,
    GeosearchStore,
}

#[derive(Clone, Copy, PartialEq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// One match: position, distance from the centre (meters, then the request's unit), score.
struct Point {
    lon: f64,
    lat: f64,
    dist: f64,
    score: f64,
    member: Vec<u8>,
}

/// `membersOfAllNeighbors`: scans the cells in order, skipping zero cells and a cell equal to
/// the last one scanned, and stops early once `limit` (ANY) matches are found.
fn collect(z: &ZSet, shape: &Shape, limit: usize) -> Vec<Point> {
    let cells = shape.cells();
    let within = shape.within();
    let mut found: Vec<Point> = Vec::new();
    let mut last: usize = 0;
    let full = |found: &Vec<Point>| limit > 0 && found.len() >= limit;
    for (i, cell) in cells.iter().enumerate() {
        if cell.is_zero() {
            continue;
        }
        // Redis's `last_processed` is 0 before anything was scanned, so the centre cell is
        // never compared with.
        if last != 0 && cells[last] == *cell {
            continue;
        }
        if full(&found) {
            break;
        }
        let (min, max) = geohash::score_range(*cell);
        let start =
            z.first_rank_in_score_range(&ScoreBound::Inclusive(min), &ScoreBound::Exclusive(max));
        if let Some(rank) = start {
            for (member, score) in z.iter_from_rank(rank, false) {
                if score >= max {
                    break;
                }
                if let Some([lon, lat]) = geohash::decode_score(score) {
                    if let Some(dist) = within.contains([lon, lat]) {
                        found.push(Point {
                            lon,
                            lat,
                            dist,
                            score,
                            member: member.to_vec(),
                        });
                    }
                }
                if full(&found) {
                    break;
                }
            }
        }
        last = i;
    }
    found
}

/// Redis's `sort_gp_asc`.
fn dist_cmp(a: &Point, b: &Point) -> i32 {
    if a.dist > b.dist {
        1
    } else if a.dist == b.dist {
        0
    } else {
        -1
    }
}

/// Keys of GEORADIUS and GEORADIUSBYMEMBER: the source, and the STORE/STOREDIST target if
/// any (the last one given wins, as Redis's `georadiusGetKeys`).
fn georadius_keys(argv: Argv<'_>) -> Option<KeyPositions> {
    let mut keys = KeyPositions::new();
    keys.push(1);
    let mut stored = None;
    let mut i = 5;
    while i < argv.len() {
        let a = argv.arg(i);
        if (is(a, "STORE") || is(a, "STOREDIST")) && i + 1 < argv.len() {
            stored = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    keys.extend(stored);
    Some(keys)
}

/// The sorted set under `key`, already looked up (and type-checked) by this command: a second
/// look counts no keyspace hit or miss, as Redis looks it up once.
fn zset_again<'c>(ctx: &'c mut ExecCtx, key: &[u8]) -> Option<&'c mut ZSet> {
    let now = ctx.now_ms;
    match ctx.db(key).get_again(key, now) {
        Some(crate::value::Value::ZSet(z)) => Some(z),
        _ => None,
    }
}

/// Redis's `georadiusGeneric`, for every command of the search family.
fn search(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink, kind: Search) -> CmdResult {
    let src_index = if kind == Search::GeosearchStore { 2 } else { 1 };
    let (src, now) = (argv.arg(src_index), ctx.now_ms);
    // Redis reads the source with `lookupKeyRead`, the writing variants too: one hit or miss.
    crate::keyspace_stats::count_as_reads();
    // The source's type is checked first; a missing source is answered only after parsing.
    let exists = get_zset(ctx.db(src), src, now)?.is_some();
    let member_center = |ctx: &mut ExecCtx, member: &[u8]| -> Result<[f64; 2], CmdError> {
        zset_again(ctx, src)
            .and_then(|z| z.score(member))
            .and_then(geohash::decode_score)
            .ok_or(CmdError::Static(errors::GEO_BAD_MEMBER))
    };
    let mut center = [0.0, 0.0];
    let mut extent = Extent::Radius(0.0);
    let mut conversion = 1.0;
    let mut store: Option<&[u8]> = None;
    let mut store_dist = false;
    let base = match kind {
        Search::Radius { .. } => {
            center = long_lat(argv.arg(2), argv.arg(3))?;
            let (r, c) = radius(argv.arg(4), argv.arg(5))?;
            (extent, conversion) = (Extent::Radius(r), c);
            6
        }
        Search::ByMember { .. } if !exists => 5,
        Search::ByMember { .. } => {
            center = member_center(ctx, argv.arg(2))?;
            let (r, c) = radius(argv.arg(3), argv.arg(4))?;
            (extent, conversion) = (Extent::Radius(r), c);
            5
        }
        Search::Geosearch => 2,
        Search::GeosearchStore => {
            store = Some(argv.arg(1));
            3
        }
    };
    let is_search = matches!(kind, Search::Geosearch | Search::GeosearchStore);
    let no_store = matches!(
        kind,
        Search::Radius { read_only: true } | Search::ByMember { read_only: true }
    );
    let (mut with_dist, mut with_hash, mut with_coord, mut any) = (false, false, false, false);
    let (mut from_member, mut from_lonlat, mut by_radius, mut by_box) =
        (false, false, false, false);
    let mut sort = Sort::None;
    let mut count: i64 = 0;
    let remaining = argv.len().saturating_sub(base);
    let mut i = 0;
    while i < remaining {
        let at = |k: usize| argv.arg(base + i + k);
        let a = at(0);
        if is(a, "WITHDIST") {
            with_dist = true;
        } else if is(a, "WITHHASH") {
            with_hash = true;
        } else if is(a, "WITHCOORD") {
            with_coord = true;
        } else if is(a, "ANY") {
            any = true;
        } else if is(a, "ASC") {
            sort = Sort::Asc;
        } else if is(a, "DESC") {
            sort = Sort::Desc;
        } else if is(a, "COUNT") && i + 1 < remaining {
            count = args::int(at(1))?;
            if count <= 0 {
                return Err(CmdError::Static(errors::GEO_COUNT));
            }
            i += 1;
        } else if (is(a, "STORE") || is(a, "STOREDIST"))
            && i + 1 < remaining
            && !no_store
            && !is_search
        {
            store = Some(at(1));
            store_dist = is(a, "STOREDIST");
            i += 1;
        } else if is(a, "STOREDIST") && kind == Search::GeosearchStore {
            store_dist = true;
        } else if is(a, "FROMMEMBER") && i + 1 < remaining && is_search && !from_lonlat {
            if exists {
                center = member_center(ctx, at(1))?;
            }
            from_member = true;
            i += 1;
        } else if is(a, "FROMLONLAT") && i + 2 < remaining && is_search && !from_member {
            center = long_lat(at(1), at(2))?;
            from_lonlat = true;
            i += 2;
        } else if is(a, "BYRADIUS") && i + 2 < remaining && is_search && !by_box {
            let (r, c) = radius(at(1), at(2))?;
            (extent, conversion) = (Extent::Radius(r), c);
            by_radius = true;
            i += 2;
        } else if is(a, "BYBOX") && i + 3 < remaining && is_search && !by_radius {
            let (width, height, c) = box_extent(at(1), at(2), at(3))?;
            (extent, conversion) = (Extent::Box { width, height }, c);
            by_box = true;
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if store.is_some() && (with_dist || with_hash || with_coord) {
        let what = if kind == Search::GeosearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(CmdError::Owned(errors::fill(errors::GEO_STORE_WITH, what)));
    }
    let name = String::from_utf8_lossy(argv.arg(0));
    if is_search && !(from_member || from_lonlat) {
        return Err(CmdError::Owned(errors::fill(errors::GEO_FROM, &name)));
    }
    if is_search && !(by_radius || by_box) {
        return Err(CmdError::Owned(errors::fill(errors::GEO_BY, &name)));
    }
    if any && count == 0 {
        return Err(CmdError::Static(errors::GEO_ANY_NEEDS_COUNT));
    }
    if !exists {
        match store {
            Some(dst) => {
                if ctx.db(dst).delete(dst, now) {
                    ctx.modified(dst);
                    ctx.notify(ev::GENERIC, "del", dst);
                }
                out.int(0);
            }
            None => out.array(0),
        }
        return Ok(());
    }
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let shape = Shape {
        center,
        conversion,
        extent,
    };
    let limit = if any { count as usize } else { 0 };
    let mut found = {
        let z = zset_again(ctx, src).expect("checked above");
        collect(z, &shape, limit)
    };
    if found.is_empty() && store.is_none() {
        out.array(0);
        return Ok(());
    }
    let returned = if count == 0 {
        found.len()
    } else {
        found.len().min(count as usize)
    };
    if sort != Sort::None {
        let sign = if sort == Sort::Asc { 1 } else { -1 };
        let cmp = |a: &Point, b: &Point| sign * dist_cmp(a, b);
        if returned == found.len() {
            // glibc's qsort is a merge sort at these sizes: stable, as this one is.
            found.sort_by(|a, b| cmp(a, b).cmp(&0));
        } else {
            pqsort(&mut found, &cmp, 0, returned - 1);
        }
    }
    found.truncate(returned);
    for p in &mut found {
        p.dist /= conversion;
    }
    match store {
        None => {
            let options = with_dist as usize + with_coord as usize + with_hash as usize;
            out.array(returned);
            for p in &found {
                if options > 0 {
                    out.array(options + 1);
                }
                out.bulk(&p.member);
                if with_dist {
                    reply_distance(out, p.dist);
                }
                if with_hash {
                    out.int(p.score as i64);
                }
                if with_coord {
                    out.array(2);
                    out.double_text(&geohash::human(p.lon));
                    out.double_text(&geohash::human(p.lat));
                }
            }
        }
        Some(dst) => {
            let lim = limits(ctx);
            let mut z = ZSet::new();
            for p in &found {
                let score = if store_dist { p.dist } else { p.score };
                if z.score(&p.member).is_none() {
                    add_new(&mut z, &p.member, score, &lim);
                }
            }
            let n = z.len();
            let event = if is_search {
                "geosearchstore"
            } else {
                "georadiusstore"
            };
            store_result(ctx, dst, z, out, event);
            if n > 1 {
                // Redis counts one change per stored member.
                ctx.effects.dirty += n as u64 - 1;
            }
        }
    }
    Ok(())
}

/// ```text
/// GEORADIUS key longitude latitude radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST]
///     [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]
/// ```
fn georadius(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    search(ctx, argv, out, Search::Radius { read_only: false })
}

/// ```text
/// GEORADIUS_RO key longitude latitude radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST]
///     [WITHHASH] [COUNT count [ANY]] [ASC | DESC]
/// ```
fn georadius_ro(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    search(ctx, argv, out, Search::Radius { read_only: true })
}

/// ```text
/// GEORADIUSBYMEMBER key member radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH]
///     [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]
/// ```
fn georadiusbymember(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    search(ctx, argv, out, Search::ByMember { read_only: false })
}

/// ```text
/// GEORADIUSBYMEMBER_RO key member radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST]
///     [WITHHASH] [COUNT count [ANY]] [ASC | DESC]
/// ```
fn georadiusbymember_ro(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    search(ctx, argv, out, Search::ByMember { read_only: true })
}

/// ```text
/// GEOSEARCH key <FROMMEMBER member | FROMLONLAT longitude latitude>
///     <BYRADIUS radius <M | KM | FT | MI> | BYBOX width height <M | KM | FT | MI>>
///     [ASC | DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]
/// ```
fn geosearch(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    search(ctx, argv, out, Search::Geosearch)
}

/// ```text
/// GEOSEARCHSTORE destination source <FROMMEMBER member | FROMLONLAT longitude latitude>
///     <BYRADIUS radius <M | KM | FT | MI> | BYBOX width height <M | KM | FT | MI>>
///     [ASC | DESC] [COUNT count [ANY]] [STOREDIST]
/// ```
fn geosearchstore(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    search(ctx, argv, out, Search::GeosearchStore)
}

const RADIUS_COMPLEXITY: &str = "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.";
const SEARCH_COMPLEXITY: &str = "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape";
const G: Group = Group::Geo;

pub static COMMANDS: &[Spec] = &[
    cmd("GEOADD", -5, Flags::WRITE.union(Flags::DENYOOM), geoadd as EngineHandler)
        .keys(1, 1, 1)
        .doc(G, "3.2.0", "Add one or more geospatial items in the geospatial index represented using a sorted set", "O(log(N)) for each item added, where N is the number of elements in the sorted set."),
    cmd("GEOPOS", -2, Flags::READONLY, geopos as EngineHandler)
        .keys(1, 1, 1)
        .doc(G, "3.2.0", "Returns longitude and latitude of members of a geospatial index", "O(N) where N is the number of members requested."),
    cmd("GEODIST", -4, Flags::READONLY, geodist as EngineHandler)
        .keys(1, 1, 1)
        .doc(G, "3.2.0", "Returns the distance between two members of a geospatial index", "O(log(N))"),
    cmd("GEOHASH", -2, Flags::READONLY, geohash_cmd as EngineHandler)
        .keys(1, 1, 1)
        .doc(G, "3.2.0", "Returns members of a geospatial index as standard geohash strings", "O(log(N)) for each member requested, where N is the number of elements in the sorted set."),
    cmd("GEOSEARCH", -7, Flags::READONLY, geosearch as EngineHandler)
        .keys(1, 1, 1)
        .doc(G, "6.2.0", "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.", SEARCH_COMPLEXITY),
    cmd("GEOSEARCHSTORE", -8, Flags::WRITE.union(Flags::DENYOOM), geosearchstore as EngineHandler)
        .keys(1, 2, 1)
        .doc(G, "6.2.0", "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.", SEARCH_COMPLEXITY),
    cmd("GEORADIUS", -6, Flags::WRITE.union(Flags::DENYOOM), georadius as EngineHandler)
        .keys(1, 1, 1)
        .movable_keys(georadius_keys)
        .doc(G, "3.2.0", "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point", RADIUS_COMPLEXITY),
    cmd("GEORADIUS_RO", -6, Flags::READONLY, georadius_ro as EngineHandler)
        .keys(1, 1, 1)
        .doc(G, "3.2.10", "A read-only variant for GEORADIUS", RADIUS_COMPLEXITY),
    cmd("GEORADIUSBYMEMBER", -5, Flags::WRITE.union(Flags::DENYOOM), georadiusbymember as EngineHandler)
        .keys(1, 1, 1)
        .movable_keys(georadius_keys)
        .doc(G, "3.2.0", "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member", RADIUS_COMPLEXITY),
    cmd("GEORADIUSBYMEMBER_RO", -5, Flags::READONLY, georadiusbymember_ro as EngineHandler)
        .keys(1, 1, 1)
        .doc(G, "3.2.10", "A read-only variant for GEORADIUSBYMEMBER", RADIUS_COMPLEXITY),
];
