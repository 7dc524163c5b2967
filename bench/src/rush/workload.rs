//! What each operation of the ticket-rush mix sends, and what it must get back, on both sides:
//! usher's native commands (`ENTER`, `QPOS`, `ADMIT`, `SEATLOCK`, `SEATCONFIRM`) and the seed
//! scripts through `EVALSHA` on any Redis-compatible server.
//!
//! Keys follow the seeds, all under the event's hash tag so they share a slot:
//! `queue:{e}` (waiting line ZSET), `active:{e}` (active sessions ZSET),
//! `active_token:{e}:<user>` (the script's per-user token HASH; nothing in this workload writes
//! it, so every script call pays its `HGETALL` miss as the seeds do), `seat:{e}:<n>` (seat HASH).

use super::resp::{self, Reply};

/// How many kinds of operation the mix has.
pub const OPS: usize = 5;

/// The operations of the mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A new user joins the line.
    Join,
    /// A waiting user asks for their place.
    Poll,
    /// A user tries to hold a seat.
    Seat,
    /// The admission loop moves the head of the line into the active set.
    Admit,
    /// A buyer who holds a seat pays: the hold is confirmed with its fencing token.
    Confirm,
}

impl Op {
    pub const ALL: [Op; OPS] = [Op::Join, Op::Poll, Op::Seat, Op::Admit, Op::Confirm];

    pub fn name(self) -> &'static str {
        match self {
            Op::Join => "join",
            Op::Poll => "poll",
            Op::Seat => "seat",
            Op::Admit => "admit",
            Op::Confirm => "confirm",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Which commands the generator sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// usher's native commands.
    Native,
    /// The seed scripts through `EVALSHA`.
    Script,
}

/// How a waiting user polls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollStyle {
    /// The mode's own poll: `QPOS` (native) or `enter_queue.lua` again (script, as the seeds do).
    Default,
    /// `ZRANK queue user` and `ZCARD queue`, pipelined: the cheapest correct plain-Redis poll.
    Zrank,
}

/// The SHA1s `SCRIPT LOAD` returned for the seed scripts.
#[derive(Clone, Debug)]
pub struct Shas {
    pub enter: Vec<u8>,
    pub admit: Vec<u8>,
    pub seat: Vec<u8>,
    pub confirm: Vec<u8>,
}

/// The seed scripts the script mode loads, by file name under `tests/scripts/`.
pub const SCRIPT_FILES: [&str; 4] = [
    "enter_queue.lua",
    "admission_zpopmin.lua",
    "seat_lock_with_token.lua",
    "payment_verify.lua",
];

/// Everything needed to write and check one operation; shared by all connections.
#[derive(Clone, Debug)]
pub struct Workload {
    pub mode: Mode,
    pub poll: PollStyle,
    pub queue: Vec<u8>,
    pub active: Vec<u8>,
    pub token_prefix: Vec<u8>,
    pub seat_prefix: Vec<u8>,
    pub shas: Option<Shas>,
    pub admit_count: u64,
    pub max_active: u64,
    pub active_ttl_ms: u64,
    pub seat_ttl_s: u64,
    /// Seats held before the run for confirmations: seat `confirm_base + i` is held by user `i`
    /// under fencing token `confirm_tokens[i]`. Seat locks draw below `confirm_base`, so they
    /// never touch these.
    pub confirm_base: u64,
    pub confirm_tokens: Vec<u64>,
}

/// One operation's arguments, drawn by the connection before writing it.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    pub op: Op,
    /// The user joining, polling or locking (unused for admit).
    pub user: u64,
    /// The seat number (seat locks and confirmations).
    pub seat: u64,
}

/// What a well-formed reply told us, beyond "it was fine".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Admitted(u64),
    SeatLocked,
    SeatTaken,
}

/// A user's name: `u` and nine digits, so names sort like their numbers (the scripts break
/// equal arrival scores by name, and the generator relies on arrival order = id order).
pub fn user_name(id: u64) -> [u8; 10] {
    let mut name = *b"u000000000";
    let mut n = id;
    for slot in name[1..].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    debug_assert_eq!(n, 0, "user ids have at most nine digits");
    name
}

impl Workload {
    /// Keys for event `event`, in `mode`.
    pub fn new(event: &str, mode: Mode, poll: PollStyle) -> Workload {
        Workload {
            mode,
            poll,
            queue: format!("queue:{{{event}}}").into_bytes(),
            active: format!("active:{{{event}}}").into_bytes(),
            token_prefix: format!("active_token:{{{event}}}:").into_bytes(),
            seat_prefix: format!("seat:{{{event}}}:").into_bytes(),
            shas: None,
            admit_count: 100,
            max_active: 10_000,
            active_ttl_ms: 300_000,
            seat_ttl_s: 300,
            confirm_base: 0,
            confirm_tokens: Vec::new(),
        }
    }

    /// How many replies `op` gets (a ZRANK poll is two commands).
    pub fn replies(&self, op: Op) -> usize {
        if op == Op::Poll && self.poll == PollStyle::Zrank {
            2
        } else {
            1
        }
    }

    fn shas(&self) -> &Shas {
        self.shas
            .as_ref()
            .expect("script mode loads the scripts first")
    }

    /// Appends `call`'s commands to `buf`. `now_ms` is the client's clock (the scripts take
    /// arrival and now from the caller; the native commands read the server's clock).
    pub fn push(&self, buf: &mut Vec<u8>, call: Call, now_ms: u64) {
        match (call.op, self.mode, self.poll) {
            (Op::Poll, _, PollStyle::Zrank) => {
                let user = user_name(call.user);
                resp::push_command(buf, &[b"ZRANK", &self.queue, &user]);
                resp::push_command(buf, &[b"ZCARD", &self.queue]);
            }
            (Op::Join, Mode::Native, _) => self.push_native_queue(buf, b"ENTER", call.user),
            (Op::Poll, Mode::Native, _) => self.push_native_queue(buf, b"QPOS", call.user),
            (Op::Join | Op::Poll, Mode::Script, _) => {
                self.push_enter_script(buf, call.user, now_ms)
            }
            (Op::Admit, Mode::Native, _) => {
                resp::push_array_header(buf, 8);
                resp::push_bulk(buf, b"ADMIT");
                resp::push_bulk(buf, &self.queue);
                resp::push_bulk(buf, &self.active);
                resp::push_bulk_u64(buf, self.admit_count);
                resp::push_bulk(buf, b"MAXACTIVE");
                resp::push_bulk_u64(buf, self.max_active);
                resp::push_bulk(buf, b"TTL");
                resp::push_bulk_u64(buf, self.active_ttl_ms);
            }
            (Op::Admit, Mode::Script, _) => {
                resp::push_array_header(buf, 9);
                resp::push_bulk(buf, b"EVALSHA");
                resp::push_bulk(buf, &self.shas().admit);
                resp::push_bulk(buf, b"2");
                resp::push_bulk(buf, &self.queue);
                resp::push_bulk(buf, &self.active);
                resp::push_bulk_u64(buf, self.admit_count);
                resp::push_bulk_u64(buf, now_ms);
                resp::push_bulk_u64(buf, self.active_ttl_ms);
                resp::push_bulk_u64(buf, self.max_active);
            }
            (Op::Seat, mode, _) => self.push_seat(buf, mode, call),
            (Op::Confirm, mode, _) => self.push_confirm(buf, mode, call),
        }
    }

    /// Native: `SEATCONFIRM seat user token KEEPTTL` (KEEPTTL: exactly what the script does).
    /// Script: `EVALSHA payment_verify 1 seat user token`. `call.seat` is the seat number;
    /// its token is the one recorded when it was held.
    fn push_confirm(&self, buf: &mut Vec<u8>, mode: Mode, call: Call) {
        let mut digits = [0u8; 20];
        let seat = resp::decimal(&mut digits, call.seat);
        let name = user_name(call.user);
        let token = self.confirm_tokens[(call.seat - self.confirm_base) as usize];
        match mode {
            Mode::Native => {
                resp::push_array_header(buf, 5);
                resp::push_bulk(buf, b"SEATCONFIRM");
            }
            Mode::Script => {
                resp::push_array_header(buf, 6);
                resp::push_bulk(buf, b"EVALSHA");
                resp::push_bulk(buf, &self.shas().confirm);
                resp::push_bulk(buf, b"1");
            }
        }
        resp::push_bulk_parts(buf, &[&self.seat_prefix, seat]);
        resp::push_bulk(buf, &name);
        resp::push_bulk_u64(buf, token);
        if mode == Mode::Native {
            resp::push_bulk(buf, b"KEEPTTL");
        }
    }

    fn push_native_queue(&self, buf: &mut Vec<u8>, command: &[u8], user: u64) {
        resp::push_command(buf, &[command, &self.queue, &self.active, &user_name(user)]);
    }

    /// `EVALSHA enter_queue 2 active_token:{e}:<user> queue:{e} <user> <arrival> <now>`.
    fn push_enter_script(&self, buf: &mut Vec<u8>, user: u64, now_ms: u64) {
        let name = user_name(user);
        resp::push_array_header(buf, 8);
        resp::push_bulk(buf, b"EVALSHA");
        resp::push_bulk(buf, &self.shas().enter);
        resp::push_bulk(buf, b"2");
        resp::push_bulk_parts(buf, &[&self.token_prefix, &name]);
        resp::push_bulk(buf, &self.queue);
        resp::push_bulk(buf, &name);
        resp::push_bulk_u64(buf, now_ms);
        resp::push_bulk_u64(buf, now_ms);
    }

    fn push_seat(&self, buf: &mut Vec<u8>, mode: Mode, call: Call) {
        let mut digits = [0u8; 20];
        let seat = resp::decimal(&mut digits, call.seat);
        let name = user_name(call.user);
        match mode {
            Mode::Native => resp::push_array_header(buf, 4),
            Mode::Script => {
                resp::push_array_header(buf, 6);
                resp::push_bulk(buf, b"EVALSHA");
                resp::push_bulk(buf, &self.shas().seat);
                resp::push_bulk(buf, b"1");
            }
        }
        if mode == Mode::Native {
            resp::push_bulk(buf, b"SEATLOCK");
        }
        resp::push_bulk_parts(buf, &[&self.seat_prefix, seat]);
        resp::push_bulk(buf, &name);
        resp::push_bulk_u64(buf, self.seat_ttl_s);
    }

    /// Checks reply number `nth` (0-based) of an `op`; `Err` says what was wrong.
    pub fn check(&self, op: Op, nth: usize, reply: &Reply<'_>) -> Result<Outcome, String> {
        if let Reply::Error(e) = reply {
            return Err(format!(
                "{}: error reply {}",
                op.name(),
                String::from_utf8_lossy(e)
            ));
        }
        let ok = match (op, self.mode, self.poll) {
            (Op::Poll, _, PollStyle::Zrank) => check_zrank_poll(nth, reply),
            (Op::Join, Mode::Native, _) => check_native_place(reply, b"NEW", 3),
            (Op::Poll, Mode::Native, _) => check_native_place(reply, b"WAITING", 9),
            (Op::Join, Mode::Script, _) => check_script_place(reply, b"NEW"),
            (Op::Poll, Mode::Script, _) => check_script_place(reply, b"WAITING"),
            (Op::Admit, _, _) => check_admit(reply, self.admit_count),
            (Op::Seat, _, _) => check_seat(reply),
            (Op::Confirm, _, _) => (reply.as_int() == Some(1)).then_some(Outcome::Ok),
        };
        ok.ok_or_else(|| format!("{}: unexpected reply {}", op.name(), reply.describe()))
    }
}

/// `ZRANK` must find the user (an integer, not null); `ZCARD` is an integer.
fn check_zrank_poll(nth: usize, reply: &Reply<'_>) -> Option<Outcome> {
    let n = reply.as_int()?;
    (n >= 0 && nth < 2).then_some(Outcome::Ok)
}

/// `[status, position, waiting, ...]` with the expected status and `1 <= position <= waiting`.
fn check_native_place(reply: &Reply<'_>, status: &[u8], len: usize) -> Option<Outcome> {
    let items = reply.as_array()?;
    let (position, waiting) = (items.get(1)?.as_int()?, items.get(2)?.as_int()?);
    let fine =
        items.len() == len && items[0].as_bulk()? == status && 1 <= position && position <= waiting;
    fine.then_some(Outcome::Ok)
}

/// `enter_queue.lua` answers with a JSON object; only its status matters here.
fn check_script_place(reply: &Reply<'_>, status: &[u8]) -> Option<Outcome> {
    let json = reply.as_bulk()?;
    let mut needle = Vec::with_capacity(16 + status.len());
    needle.extend_from_slice(b"\"status\":\"");
    needle.extend_from_slice(status);
    needle.push(b'"');
    json.windows(needle.len())
        .any(|w| w == needle.as_slice())
        .then_some(Outcome::Ok)
}

/// `[n, [user * n]]` with `n <= count`.
fn check_admit(reply: &Reply<'_>, count: u64) -> Option<Outcome> {
    let items = reply.as_array()?;
    let n = items.first()?.as_int()?;
    let users = items.get(1)?.as_array()?;
    let fine = items.len() == 2
        && n >= 0
        && n as u64 <= count
        && users.len() == n as usize
        && users.iter().all(|u| u.as_bulk().is_some());
    fine.then_some(Outcome::Admitted(n as u64))
}

/// `[1, token]` (held) or `[0]` (someone holds it).
fn check_seat(reply: &Reply<'_>) -> Option<Outcome> {
    let items = reply.as_array()?;
    match (items.first()?.as_int()?, items.len()) {
        (0, 1) => Some(Outcome::SeatTaken),
        (1, 2) => seat_token(reply).map(|_| Outcome::SeatLocked),
        _ => None,
    }
}

/// The fencing token of a seat lock's `[1, token]` reply (an integer natively, a string from
/// the script's Lua number).
pub fn seat_token(reply: &Reply<'_>) -> Option<u64> {
    let items = reply.as_array()?;
    if items.len() != 2 || items[0].as_int()? != 1 {
        return None;
    }
    let token = match &items[1] {
        Reply::Int(t) => *t,
        other => std::str::from_utf8(other.as_bulk()?).ok()?.parse().ok()?,
    };
    u64::try_from(token).ok().filter(|&t| t >= 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(bytes: &[u8]) -> Vec<Reply<'_>> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let (r, used) = resp::parse(&bytes[at..]).unwrap().unwrap();
            out.push(r);
            at += used;
        }
        out
    }

    #[test]
    fn user_names_sort_like_their_ids() {
        assert_eq!(&user_name(0), b"u000000000");
        assert_eq!(&user_name(123_456_789), b"u123456789");
        assert!(user_name(99) < user_name(100));
    }

    #[test]
    fn native_join_writes_enter_on_the_events_keys() {
        let w = Workload::new("e1", Mode::Native, PollStyle::Default);
        let mut buf = Vec::new();
        w.push(
            &mut buf,
            Call {
                op: Op::Join,
                user: 7,
                seat: 0,
            },
            1,
        );
        assert_eq!(
            buf,
            b"*4\r\n$5\r\nENTER\r\n$10\r\nqueue:{e1}\r\n$11\r\nactive:{e1}\r\n$10\r\nu000000007\r\n"
        );
    }

    #[test]
    fn script_seat_lock_passes_seat_key_user_and_ttl() {
        let mut w = Workload::new("e", Mode::Script, PollStyle::Default);
        w.shas = Some(Shas {
            enter: b"a".to_vec(),
            admit: b"b".to_vec(),
            seat: b"c".to_vec(),
            confirm: b"d".to_vec(),
        });
        let mut buf = Vec::new();
        w.push(
            &mut buf,
            Call {
                op: Op::Seat,
                user: 1,
                seat: 42,
            },
            5,
        );
        let frames = parse_all(&buf);
        let args: Vec<&[u8]> = frames[0]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_bulk().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                &b"EVALSHA"[..],
                b"c",
                b"1",
                b"seat:{e}:42",
                b"u000000001",
                b"300"
            ]
        );
    }

    #[test]
    fn confirm_sends_the_recorded_token_with_keepttl() {
        let mut w = Workload::new("e", Mode::Native, PollStyle::Default);
        w.confirm_base = 100;
        w.confirm_tokens = vec![7, 9];
        let mut buf = Vec::new();
        let call = Call {
            op: Op::Confirm,
            user: 1,
            seat: 101,
        };
        w.push(&mut buf, call, 5);
        assert_eq!(
            buf,
            b"*5\r\n$11\r\nSEATCONFIRM\r\n$12\r\nseat:{e}:101\r\n$10\r\nu000000001\r\n$1\r\n9\r\n$7\r\nKEEPTTL\r\n"
        );
        let one = parse_all(b":1\r\n:0\r\n");
        assert_eq!(w.check(Op::Confirm, 0, &one[0]), Ok(Outcome::Ok));
        assert!(
            w.check(Op::Confirm, 0, &one[1]).is_err(),
            "0: not confirmed"
        );
        let held = parse_all(b"*2\r\n:1\r\n:4\r\n*2\r\n:1\r\n$1\r\n5\r\n*1\r\n:0\r\n");
        assert_eq!(seat_token(&held[0]), Some(4));
        assert_eq!(seat_token(&held[1]), Some(5));
        assert_eq!(seat_token(&held[2]), None);
    }

    #[test]
    fn replies_are_checked_by_shape_and_status() {
        let w = Workload::new("e", Mode::Native, PollStyle::Default);
        let join = parse_all(b"*3\r\n$3\r\nNEW\r\n:5\r\n:5\r\n");
        assert_eq!(w.check(Op::Join, 0, &join[0]), Ok(Outcome::Ok));
        let waiting = parse_all(b"*3\r\n$7\r\nWAITING\r\n:5\r\n:5\r\n");
        assert!(
            w.check(Op::Join, 0, &waiting[0]).is_err(),
            "a new user must be NEW"
        );
        let poll = parse_all(
            b"*9\r\n$7\r\nWAITING\r\n:3\r\n:9\r\n:-1\r\n:1000\r\n$-1\r\n$4\r\nopen\r\n$-1\r\n:-1\r\n",
        );
        assert_eq!(w.check(Op::Poll, 0, &poll[0]), Ok(Outcome::Ok));
        let admit = parse_all(b"*2\r\n:1\r\n*1\r\n$1\r\na\r\n");
        assert_eq!(w.check(Op::Admit, 0, &admit[0]), Ok(Outcome::Admitted(1)));
        let seat = parse_all(b"*2\r\n:1\r\n:4\r\n*1\r\n:0\r\n");
        assert_eq!(w.check(Op::Seat, 0, &seat[0]), Ok(Outcome::SeatLocked));
        assert_eq!(w.check(Op::Seat, 0, &seat[1]), Ok(Outcome::SeatTaken));
        let err = parse_all(b"-ERR unknown command\r\n");
        assert!(w.check(Op::Seat, 0, &err[0]).is_err());
    }

    #[test]
    fn script_places_are_read_from_the_json_status() {
        let w = Workload::new("e", Mode::Script, PollStyle::Default);
        let r = parse_all(b"$50\r\n{\"status\":\"WAITING\",\"position\":3,\"totalWaiting\":9}\r\n");
        assert_eq!(w.check(Op::Poll, 0, &r[0]), Ok(Outcome::Ok));
        assert!(w.check(Op::Join, 0, &r[0]).is_err());
    }

    #[test]
    fn partial_replies_wait_for_more_bytes() {
        assert!(resp::parse(b"*2\r\n:1\r\n").unwrap().is_none());
        assert!(resp::parse(b"$5\r\nab").unwrap().is_none());
        assert!(resp::parse(b"?x\r\n").is_err());
    }
}
