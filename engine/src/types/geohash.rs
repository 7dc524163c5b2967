//! Geohashes as Redis stores them in sorted-set scores, and the search areas around a point.
//!
//! A position is a 52-bit interleaved geohash (26 bits of latitude in the even bits, 26 of
//! longitude in the odd ones) over longitude -180..180 and latitude -85.05112878..85.05112878
//! (the Web Mercator limits), stored as the member's score. Decoding answers the centre of
//! the hash's cell, so GEOPOS is never exactly what GEOADD was given; that centre, the
//! haversine distance on a 6372797.560856 m sphere, the step estimate, the bounding box and
//! the nine cells a search scans all follow Redis 7.0's `geohash.c` and `geohash_helper.c`
//! operation for operation, because replies print distances to 0.1 mm and coordinates to 17
//! decimals, and which cells are scanned decides the order of unsorted results. `sin`, `cos`,
//! `asin` and `sqrt` come from the platform's libm, as Redis's do.

pub const STEP_MAX: u8 = 26;
pub const LAT_MIN: f64 = -85.051_128_78;
pub const LAT_MAX: f64 = 85.051_128_78;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
const EARTH_RADIUS_IN_METERS: f64 = 6_372_797.560_856;
const MERCATOR_MAX: f64 = 20_037_726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

/// A geohash of `step * 2` bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Bits {
    pub bits: u64,
    pub step: u8,
}

impl Bits {
    /// `HASHISZERO`: an excluded neighbour.
    pub fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// The cell a hash covers.
#[derive(Clone, Copy, Debug, Default)]
pub struct Area {
    pub longitude: Range,
    pub latitude: Range,
}

const WGS84_LONG: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
const WGS84_LAT: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

fn interleave64(xlo: u32, ylo: u32) -> u64 {
    const B: [u64; 5] = [
        0x5555_5555_5555_5555,
        0x3333_3333_3333_3333,
        0x0F0F_0F0F_0F0F_0F0F,
        0x00FF_00FF_00FF_00FF,
        0x0000_FFFF_0000_FFFF,
    ];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let (mut x, mut y) = (xlo as u64, ylo as u64);
    for i in (0..5).rev() {
        x = (x | (x << S[i])) & B[i];
        y = (y | (y << S[i])) & B[i];
    }
    x | (y << 1)
}

fn deinterleave64(interleaved: u64) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("bmi2") {
        // Safety: the CPU has BMI2 (checked just above; std caches the answer).
        return unsafe { deinterleave64_bmi2(interleaved) };
    }
    deinterleave64_portable(interleaved)
}

/// [`deinterleave64`] in two `pext`s: the same bits as the shifts and masks, in a tenth of
/// the instructions, on the path every GEOSEARCH candidate takes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "bmi2")]
unsafe fn deinterleave64_bmi2(interleaved: u64) -> u64 {
    use std::arch::x86_64::_pext_u64;
    let x = _pext_u64(interleaved, 0x5555_5555_5555_5555);
    let y = _pext_u64(interleaved, 0xAAAA_AAAA_AAAA_AAAA);
    x | (y << 32)
}

fn deinterleave64_portable(interleaved: u64) -> u64 {
    const B: [u64; 6] = [
        0x5555_5555_5555_5555,
        0x3333_3333_3333_3333,
        0x0F0F_0F0F_0F0F_0F0F,
        0x00FF_00FF_00FF_00FF,
        0x0000_FFFF_0000_FFFF,
        0x0000_0000_FFFF_FFFF,
    ];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let (mut x, mut y) = (interleaved, interleaved >> 1);
    for i in 0..6 {
        x = (x | (x >> S[i])) & B[i];
        y = (y | (y >> S[i])) & B[i];
    }
    x | (y << 32)
}

/// C's `(uint32_t)` of a non-negative double below 2^32 (truncation).
fn to_u32(v: f64) -> u32 {
    v as u32
}

/// `geohashEncode` over explicit ranges; None outside the Mercator limits or the ranges.
pub fn encode(
    long_range: Range,
    lat_range: Range,
    longitude: f64,
    latitude: f64,
    step: u8,
) -> Option<Bits> {
    if step > 32 || step == 0 {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&longitude) || !(LAT_MIN..=LAT_MAX).contains(&latitude) {
        return None;
    }
    if latitude < lat_range.min
        || latitude > lat_range.max
        || longitude < long_range.min
        || longitude > long_range.max
    {
        return None;
    }
    let mut lat_offset = (latitude - lat_range.min) / (lat_range.max - lat_range.min);
    let mut long_offset = (longitude - long_range.min) / (long_range.max - long_range.min);
    lat_offset *= (1u64 << step) as f64;
    long_offset *= (1u64 << step) as f64;
    Some(Bits {
        bits: interleave64(to_u32(lat_offset), to_u32(long_offset)),
        step,
    })
}

/// `geohashEncodeWGS84`.
pub fn encode_wgs84(longitude: f64, latitude: f64, step: u8) -> Option<Bits> {
    encode(WGS84_LONG, WGS84_LAT, longitude, latitude, step)
}

/// `geohashDecode` over the WGS84 ranges (None for the zero hash).
pub fn decode(hash: Bits) -> Option<Area> {
    if hash.is_zero() {
        return None;
    }
    let sep = deinterleave64(hash.bits);
    let lat_scale = WGS84_LAT.max - WGS84_LAT.min;
    let long_scale = WGS84_LONG.max - WGS84_LONG.min;
    let ilato = sep as u32;
    let ilono = (sep >> 32) as u32;
    let div = (1u64 << hash.step) as f64;
    Some(Area {
        latitude: Range {
            min: WGS84_LAT.min + (ilato as f64 * 1.0 / div) * lat_scale,
            max: WGS84_LAT.min + ((ilato.wrapping_add(1)) as f64 * 1.0 / div) * lat_scale,
        },
        longitude: Range {
            min: WGS84_LONG.min + (ilono as f64 * 1.0 / div) * long_scale,
            max: WGS84_LONG.min + ((ilono.wrapping_add(1)) as f64 * 1.0 / div) * long_scale,
        },
    })
}

/// `geohashDecodeAreaToLongLat`: the cell's centre, clamped to the limits.
fn area_center(area: &Area) -> [f64; 2] {
    let lon = ((area.longitude.min + area.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((area.latitude.min + area.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    [lon, lat]
}

/// C's `(uint64_t)` of a double as x86-64 compilers emit it (scores that are not geohashes
/// still decode to something, as in Redis).
fn c_f64_to_u64(x: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    let cvtt = |v: f64| -> i64 {
        if v.is_nan() || !(-TWO63..TWO63).contains(&v) {
            i64::MIN
        } else {
            v as i64
        }
    };
    if x < TWO63 {
        cvtt(x) as u64
    } else {
        (cvtt(x - TWO63) as u64) ^ (1u64 << 63)
    }
}

/// Redis's `decodeGeohash`: the position a sorted-set score stands for.
pub fn decode_score(score: f64) -> Option<[f64; 2]> {
    decode(Bits {
        bits: c_f64_to_u64(score),
        step: STEP_MAX,
    })
    .map(|a| area_center(&a))
}

/// `geohashAlign52Bits`.
pub fn align52(hash: Bits) -> u64 {
    hash.bits << (52 - hash.step as u32 * 2)
}

/// The score GEOADD stores for a position (already checked to be within the limits).
pub fn score_of(longitude: f64, latitude: f64) -> u64 {
    encode_wgs84(longitude, latitude, STEP_MAX).map_or(0, align52)
}

/// GEOHASH's 11-character standard geohash (re-encoded over latitude -90..90).
pub fn standard_geohash(score: f64) -> Option<[u8; 11]> {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let [lon, lat] = decode_score(score)?;
    let hash = encode(
        Range {
            min: -180.0,
            max: 180.0,
        },
        Range {
            min: -90.0,
            max: 90.0,
        },
        lon,
        lat,
        26,
    )
    .unwrap_or_default();
    let mut out = [0u8; 11];
    for (i, c) in out.iter_mut().enumerate() {
        // 52 bits make ten characters; the eleventh is always '0', as Redis pads it.
        let idx = if i == 10 {
            0
        } else {
            (hash.bits >> (52 - (i + 1) * 5)) & 0x1f
        };
        *c = ALPHABET[idx as usize];
    }
    Some(out)
}

/// `geohash_move_x` / `geohash_move_y`: steps the longitude (odd bits, `axis` =
/// 0xaaaa...) or latitude (even bits, 0x5555...) part of a hash by one cell, wrapping.
fn move_axis(hash: &mut Bits, d: i8, axis: u64) {
    if d == 0 {
        return;
    }
    let other = !axis;
    let shift = 64 - hash.step as u32 * 2;
    let mut part = hash.bits & axis;
    let rest = hash.bits & other;
    let zz = other >> shift;
    if d > 0 {
        part = part.wrapping_add(zz + 1);
    } else {
        part |= zz;
        part = part.wrapping_sub(zz + 1);
    }
    part &= axis >> shift;
    hash.bits = part | rest;
}

fn move_x(hash: &mut Bits, d: i8) {
    move_axis(hash, d, 0xaaaa_aaaa_aaaa_aaaa);
}

fn move_y(hash: &mut Bits, d: i8) {
    move_axis(hash, d, 0x5555_5555_5555_5555);
}

/// The eight cells around a hash.
#[derive(Clone, Copy, Debug, Default)]
pub struct Neighbors {
    pub north: Bits,
    pub east: Bits,
    pub west: Bits,
    pub south: Bits,
    pub north_east: Bits,
    pub south_east: Bits,
    pub north_west: Bits,
    pub south_west: Bits,
}

fn neighbors(hash: &Bits) -> Neighbors {
    let at = |dx: i8, dy: i8| {
        let mut h = *hash;
        move_x(&mut h, dx);
        move_y(&mut h, dy);
        h
    };
    Neighbors {
        east: at(1, 0),
        west: at(-1, 0),
        south: at(0, -1),
        north: at(0, 1),
        north_west: at(-1, 1),
        north_east: at(1, 1),
        south_east: at(1, -1),
        south_west: at(-1, -1),
    }
}

fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}

fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

/// `geohashGetLatDistance`.
fn lat_distance(lat1d: f64, lat2d: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2d) - deg_rad(lat1d)).abs()
}

/// `geohashGetDistance`: the haversine distance in meters.
pub fn distance(lon1d: f64, lat1d: f64, lon2d: f64, lat2d: f64) -> f64 {
    Origin::new([lon1d, lat1d]).distance_to([lon2d, lat2d])
}

/// A point that many distances are measured from, with its cosine computed once: the same
/// operations as [`distance`] in the same order, so every result is bit for bit Redis's.
#[derive(Clone, Copy, Debug)]
pub struct Origin {
    lat1d: f64,
    lon1r: f64,
    lat1r: f64,
    cos_lat1: f64,
}

impl Origin {
    pub fn new([lon1d, lat1d]: [f64; 2]) -> Origin {
        let lat1r = deg_rad(lat1d);
        Origin {
            lat1d,
            lon1r: deg_rad(lon1d),
            lat1r,
            cos_lat1: lat1r.cos(),
        }
    }

    pub fn distance_to(&self, [lon2d, lat2d]: [f64; 2]) -> f64 {
        let lon2r = deg_rad(lon2d);
        let v = ((lon2r - self.lon1r) / 2.0).sin();
        // Same longitude: the haversine reduces to the latitude difference.
        if v == 0.0 {
            return lat_distance(self.lat1d, lat2d);
        }
        let lat2r = deg_rad(lat2d);
        let u = ((lat2r - self.lat1r) / 2.0).sin();
        let a = u * u + self.cos_lat1 * lat2r.cos() * v * v;
        2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
    }
}

/// What a search covers: a circle or an axis-aligned box around a centre.
#[derive(Clone, Copy, Debug)]
pub enum Extent {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// Redis's `GeoShape`: the centre, the extent in the request's unit, and the unit's size
/// in meters.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub center: [f64; 2],
    pub conversion: f64,
    pub extent: Extent,
}

/// A [`Shape`] ready to test many candidates: the centre's cosine and the radius in meters
/// computed once.
#[derive(Clone, Copy, Debug)]
pub struct Within {
    center: [f64; 2],
    origin: Origin,
    extent: Extent,
    conversion: f64,
    /// Radius searches: a latitude distance above this is outside for certain. The haversine
    /// is never below the latitude difference (its `u * u` term alone is that distance);
    /// the margin, far above both formulas' rounding, keeps points on the rim for the exact
    /// test, so the filter changes no result, only skips the `sin`, `cos` and `asin` of
    /// candidates north or south of the circle.
    lat_reject: f64,
}

impl Within {
    /// `geoWithinShape`: the distance from the centre (meters) if the point is inside.
    pub fn contains(&self, point: [f64; 2]) -> Option<f64> {
        let [x1, y1] = self.center;
        let [x2, y2] = point;
        match self.extent {
            Extent::Radius(r) => {
                if lat_distance(y1, y2) > self.lat_reject {
                    return None;
                }
                let d = self.origin.distance_to(point);
                (d <= r * self.conversion).then_some(d)
            }
            Extent::Box { width, height } => {
                let (width_m, height_m) = (width * self.conversion, height * self.conversion);
                if lat_distance(y2, y1) > height_m / 2.0 {
                    return None;
                }
                if distance(x2, y2, x1, y2) > width_m / 2.0 {
                    return None;
                }
                Some(self.origin.distance_to(point))
            }
        }
    }
}

impl Shape {
    /// The shape prepared for [`Within::contains`] over many candidates.
    pub fn within(&self) -> Within {
        let lat_reject = match self.extent {
            Extent::Radius(r) => r * self.conversion * (1.0 + 1e-9) + 1e-6,
            Extent::Box { .. } => f64::INFINITY,
        };
        Within {
            center: self.center,
            origin: Origin::new(self.center),
            extent: self.extent,
            conversion: self.conversion,
            lat_reject,
        }
    }

    /// `geohashBoundingBox`: [min lon, min lat, max lon, max lat].
    fn bounding_box(&self) -> [f64; 4] {
        let [longitude, latitude] = self.center;
        let (height, width) = match self.extent {
            Extent::Radius(r) => (self.conversion * r, self.conversion * r),
            Extent::Box { width, height } => (
                self.conversion * (height / 2.0),
                self.conversion * (width / 2.0),
            ),
        };
        let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
        let long_delta_top =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude + lat_delta).cos());
        let long_delta_bottom =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude - lat_delta).cos());
        let long_delta = if latitude < 0.0 {
            long_delta_bottom
        } else {
            long_delta_top
        };
        [
            longitude - long_delta,
            latitude - lat_delta,
            longitude + long_delta,
            latitude + lat_delta,
        ]
    }

    /// `geohashCalculateAreasByShapeWGS84`: the cells to scan, in Redis's order (centre,
    /// north, south, east, west, north-east, north-west, south-east, south-west); excluded
    /// cells are zero.
    pub fn cells(&self) -> [Bits; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounding_box();
        let [longitude, latitude] = self.center;
        let radius_meters = match self.extent {
            Extent::Radius(r) => r,
            Extent::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.conversion;
        let mut steps = estimate_steps(radius_meters, latitude);
        let mut hash = encode_wgs84(longitude, latitude, steps).unwrap_or_default();
        let mut n = neighbors(&hash);
        let mut area = decode(hash).unwrap_or_default();
        let dec = |h: Bits| decode(h).unwrap_or_default();
        let decrease_step = dec(n.north).latitude.max < max_lat
            || dec(n.south).latitude.min > min_lat
            || dec(n.east).longitude.max < max_lon
            || dec(n.west).longitude.min > min_lon;
        if steps > 1 && decrease_step {
            steps -= 1;
            hash = encode_wgs84(longitude, latitude, steps).unwrap_or_default();
            n = neighbors(&hash);
            area = decode(hash).unwrap_or_default();
        }
        if steps >= 2 {
            let zero = Bits::default();
            if area.latitude.min < min_lat {
                (n.south, n.south_west, n.south_east) = (zero, zero, zero);
            }
            if area.latitude.max > max_lat {
                (n.north, n.north_east, n.north_west) = (zero, zero, zero);
            }
            if area.longitude.min < min_lon {
                (n.west, n.south_west, n.north_west) = (zero, zero, zero);
            }
            if area.longitude.max > max_lon {
                (n.east, n.south_east, n.north_east) = (zero, zero, zero);
            }
        }
        [
            hash,
            n.north,
            n.south,
            n.east,
            n.west,
            n.north_east,
            n.north_west,
            n.south_east,
            n.south_west,
        ]
    }
}

/// `geohashEstimateStepsByRadius`.
fn estimate_steps(mut range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// The score range `[min, max)` holding every position inside a cell
/// (`scoresOfGeoHashBox`).
pub fn score_range(hash: Bits) -> (f64, f64) {
    let min = align52(hash);
    let max = align52(Bits {
        bits: hash.bits + 1,
        step: hash.step,
    });
    (min as f64, max as f64)
}

/// Redis's `addReplyHumanLongDouble` text for a coordinate: `%.17Lf` of the exact value,
/// trailing zeros and dot removed.
pub fn human(v: f64) -> String {
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        for (x, y) in [
            (0u32, 0u32),
            (1, 0),
            (0x3ff_ffff, 0x155_5555),
            (12345, 67890),
        ] {
            let sep = deinterleave64(interleave64(x, y));
            assert_eq!((sep as u32, (sep >> 32) as u32), (x, y));
        }
    }

    #[test]
    fn deinterleave_paths_agree() {
        let mut v: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..10_000 {
            v = v.rotate_left(7).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ (v >> 3);
            assert_eq!(deinterleave64(v), deinterleave64_portable(v));
        }
    }

    /// `geoWithinShape` written out as Redis's `geohash_helper.c` has it, with nothing
    /// precomputed: what [`Within`] must answer bit for bit.
    fn reference(shape: &Shape, [x2, y2]: [f64; 2]) -> Option<f64> {
        let [x1, y1] = shape.center;
        let (lon1r, lat1r) = (deg_rad(x1), deg_rad(y1));
        let haversine = |lon2r: f64, lat2r: f64, lat1d: f64, lat2d: f64, lon1r: f64, lat1r: f64| {
            let v = ((lon2r - lon1r) / 2.0).sin();
            if v == 0.0 {
                return lat_distance(lat1d, lat2d);
            }
            let u = ((lat2r - lat1r) / 2.0).sin();
            let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
            2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
        };
        let d = haversine(deg_rad(x2), deg_rad(y2), y1, y2, lon1r, lat1r);
        match shape.extent {
            Extent::Radius(r) => (d <= r * shape.conversion).then_some(d),
            Extent::Box { width, height } => {
                if lat_distance(y2, y1) > height * shape.conversion / 2.0 {
                    return None;
                }
                let across = haversine(deg_rad(x1), deg_rad(y2), y2, y2, deg_rad(x2), deg_rad(y2));
                (across <= width * shape.conversion / 2.0).then_some(d)
            }
        }
    }

    #[test]
    fn prepared_shapes_answer_as_redis_does() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(20261207);
        for _ in 0..2_000 {
            let center = [
                rng.random_range(-180.0..180.0),
                rng.random_range(-85.0..85.0),
            ];
            let r: f64 = [0.0, 1.0, 500.0, 5_000.0, 200_000.0, 3_000_000.0][rng.random_range(0..6)];
            let extent = if rng.random_bool(0.8) {
                Extent::Radius(r)
            } else {
                Extent::Box {
                    width: r * 1.5,
                    height: r,
                }
            };
            let shape = Shape {
                center,
                conversion: 1.0,
                extent,
            };
            let within = shape.within();
            let span = (r / 111_000.0).max(1e-6) * 1.5;
            for _ in 0..50 {
                let mut p = [
                    (center[0] + rng.random_range(-span..span)).clamp(-180.0, 180.0),
                    (center[1] + rng.random_range(-span..span)).clamp(-85.0, 85.0),
                ];
                if rng.random_bool(0.2) {
                    // On the rim, straight north or south: the latitude filter's edge.
                    let dlat = rad_deg(r / EARTH_RADIUS_IN_METERS);
                    p = [center[0], (center[1] + dlat).clamp(-85.0, 85.0)];
                }
                let (got, want) = (within.contains(p), reference(&shape, p));
                assert_eq!(
                    got.map(f64::to_bits),
                    want.map(f64::to_bits),
                    "{shape:?} at {p:?}"
                );
            }
        }
    }

    #[test]
    fn known_positions_match_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" stores this score in Redis.
        assert_eq!(score_of(13.361389, 38.115556), 3_479_099_956_230_698);
        let [lon, lat] = decode_score(3_479_099_956_230_698.0).unwrap();
        assert_eq!(human(lon), "13.36138933897018433");
        assert_eq!(human(lat), "38.11555639549629859");
        assert_eq!(
            &standard_geohash(3_479_099_956_230_698.0).unwrap(),
            b"sqc8b49rny0"
        );
    }
}
