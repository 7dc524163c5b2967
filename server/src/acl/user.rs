//! An ACL user and its selectors: the rules of `ACL SETUSER` applied one at a time (Redis's
//! `ACLSetUser` / `ACLSetSelector`), and the description `ACL LIST` and `ACL GETUSER` print
//! (Redis 7.0's `ACLDescribeUser`, categories found by best fit).
//!
//! A user is immutable once built: `ACL SETUSER` applies its rules to a copy and swaps the copy
//! in, so a bad rule changes nothing and connections never see a half-applied user.

use super::categories;
use crate::registry::Registry;
use sha2::{Digest, Sha256};

/// Key pattern access, as `%R~`, `%W~` and `~` give it.
pub const READ: u8 = 1;
pub const WRITE: u8 = 2;
pub const READ_WRITE: u8 = READ | WRITE;

/// One key pattern and the access it grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPattern {
    pub access: u8,
    pub pattern: Vec<u8>,
}

/// A set of permissions: the user's root selector, or one added with `(...)`. A command runs
/// when any selector allows it with all its keys and channels.
#[derive(Clone, Debug)]
pub struct Selector {
    pub all_keys: bool,
    pub all_channels: bool,
    /// `+@all` and nothing taken away since: no command bit needs testing.
    pub all_commands: bool,
    /// One bit per registry command id, plus the last bit, set only by `+@all`, meaning
    /// "commands added later too" (how Redis tells `+@all -x` from `-@all +...`).
    pub allowed: Vec<u64>,
    /// `+select|0`: first arguments allowed for an otherwise denied command, by command id.
    pub first_args: Vec<(u32, Vec<Vec<u8>>)>,
    pub keys: Vec<KeyPattern>,
    pub channels: Vec<Vec<u8>>,
}

/// Why a rule was refused, worded as Redis's `ACLSetUserStringError`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleError {
    Syntax,
    UnknownCommand,
    KeyAfterAll,
    ChannelAfterAll,
    NoSuchPassword,
    BadHash,
    FirstArgOfSubcommand,
}

impl RuleError {
    pub fn text(self) -> &'static str {
        match self {
            RuleError::Syntax => "Syntax error",
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::KeyAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::FirstArgOfSubcommand => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

/// What the rules see of the server: the command table and `acl-pubsub-default`.
pub struct Ctx<'a> {
    pub registry: &'a Registry,
    /// `acl-pubsub-default allchannels`: new selectors start with `&*`.
    pub all_channels_default: bool,
}

impl Selector {
    pub fn new(ctx: &Ctx<'_>) -> Selector {
        Selector {
            all_keys: false,
            all_channels: ctx.all_channels_default,
            all_commands: false,
            allowed: vec![0; words(ctx.registry)],
            first_args: Vec::new(),
            keys: Vec::new(),
            channels: Vec::new(),
        }
    }

    /// The "future commands" bit (see `allowed`).
    fn future_bit(&self) -> usize {
        self.allowed.len() * 64 - 1
    }

    pub fn allows_id(&self, id: u32) -> bool {
        self.allowed[id as usize / 64] & (1 << (id % 64)) != 0
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if on {
            self.allowed[id / 64] |= 1 << (id % 64);
        } else {
            self.allowed[id / 64] &= !(1 << (id % 64));
            self.all_commands = false;
        }
    }

    /// Allows or denies a command and, for a container, every subcommand (Redis's
    /// `ACLChangeSelectorPerm`).
    fn change_perm(&mut self, registry: &Registry, id: u32, on: bool) {
        self.set_bit(id as usize, on);
        self.first_args.retain(|(i, _)| *i != id);
        for &child in &registry.get(id).children {
            self.set_bit(child as usize, on);
        }
    }

    fn set_category(&mut self, registry: &Registry, bit: u32, on: bool) {
        for cmd in registry.all() {
            if cmd.categories & bit != 0 {
                self.change_perm(registry, cmd.id, on);
            }
        }
    }

    /// Applies one selector rule (Redis's `ACLSetSelector`).
    pub fn apply(&mut self, ctx: &Ctx<'_>, op: &[u8]) -> Result<(), RuleError> {
        let registry = ctx.registry;
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if is("allkeys") || op == b"~*" {
            self.all_keys = true;
            self.keys.clear();
        } else if is("resetkeys") {
            self.all_keys = false;
            self.keys.clear();
        } else if is("allchannels") || op == b"&*" {
            self.all_channels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.all_channels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.allowed.iter_mut().for_each(|w| *w = u64::MAX);
            self.all_commands = true;
            self.first_args.clear();
        } else if is("nocommands") || is("-@all") {
            self.allowed.iter_mut().for_each(|w| *w = 0);
            self.all_commands = false;
            self.first_args.clear();
        } else if op.first() == Some(&b'~') || op.first() == Some(&b'%') {
            self.add_key_pattern(op)?;
        } else if op.first() == Some(&b'&') {
            if self.all_channels {
                return Err(RuleError::ChannelAfterAll);
            }
            let pattern = &op[1..];
            if has_spaces(pattern) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == pattern) {
                self.channels.push(pattern.to_vec());
            }
            self.all_channels = false;
        } else if (op.first() == Some(&b'+') || op.first() == Some(&b'-'))
            && op.get(1) == Some(&b'@')
        {
            let bit = categories::bit(&op[2..]).ok_or(RuleError::UnknownCommand)?;
            self.set_category(registry, bit, op[0] == b'+');
        } else if op.first() == Some(&b'+') {
            self.allow_command(registry, &op[1..])?;
        } else if op.first() == Some(&b'-') {
            let cmd = registry
                .by_full_name(&op[1..])
                .ok_or(RuleError::UnknownCommand)?;
            self.change_perm(registry, cmd.id, false);
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    /// `+cmd`, `+container|sub`, or `+cmd|first-arg` for a command without subcommands.
    fn allow_command(&mut self, registry: &Registry, name: &[u8]) -> Result<(), RuleError> {
        let Some(bar) = name.iter().rposition(|&b| b == b'|') else {
            let cmd = registry.by_name(name).ok_or(RuleError::UnknownCommand)?;
            self.change_perm(registry, cmd.id, true);
            return Ok(());
        };
        let (base, sub) = (&name[..bar], &name[bar + 1..]);
        let cmd = registry
            .by_full_name(base)
            .ok_or(RuleError::UnknownCommand)?;
        if cmd.parent.is_some() {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        if sub.is_empty() {
            return Err(RuleError::Syntax);
        }
        if !cmd.children.is_empty() {
            let sub = registry
                .by_full_name(name)
                .ok_or(RuleError::UnknownCommand)?;
            self.change_perm(registry, sub.id, true);
            return Ok(());
        }
        crate::warning!(
            "Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse of ACL and may get disabled in the future (offender: +{})",
            String::from_utf8_lossy(name)
        );
        let lower = sub.to_ascii_lowercase();
        match self.first_args.iter_mut().find(|(i, _)| *i == cmd.id) {
            Some((_, args)) if args.contains(&lower) => {}
            Some((_, args)) => args.push(lower),
            None => self.first_args.push((cmd.id, vec![lower])),
        }
        Ok(())
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeyAfterAll);
        }
        let (access, pattern) = if op[0] == b'%' {
            let mut access = 0;
            let mut offset = 1;
            loop {
                match op.get(offset).map(u8::to_ascii_uppercase) {
                    Some(b'R') if access & READ == 0 => access |= READ,
                    Some(b'W') if access & WRITE == 0 => access |= WRITE,
                    Some(b'~') => {
                        offset += 1;
                        break;
                    }
                    // Redis stops at the end of the string too, taking an empty pattern.
                    None => break,
                    _ => return Err(RuleError::Syntax),
                }
                offset += 1;
            }
            (access, &op[offset.min(op.len())..])
        } else {
            (READ_WRITE, &op[1..])
        };
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|k| k.pattern == pattern) {
            Some(existing) => existing.access |= access,
            None => self.keys.push(KeyPattern {
                access,
                pattern: pattern.to_vec(),
            }),
        }
        self.all_keys = false;
        Ok(())
    }

    /// True when this selector alone lets anything through: the default user's `+@all ~* &*`.
    pub fn unrestricted(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }

    /// `~* &* +@all`-style text of this selector (Redis's `ACLDescribeSelector`).
    pub fn describe(&self, registry: &Registry) -> String {
        let mut out = String::new();
        if self.all_keys {
            out.push_str("~* ");
        } else {
            for k in &self.keys {
                out.push_str(&key_pattern_text(k));
                out.push(' ');
            }
        }
        if self.all_channels {
            out.push_str("&* ");
        } else {
            out.push_str("resetchannels ");
            for c in &self.channels {
                out.push('&');
                out.push_str(&String::from_utf8_lossy(c));
                out.push(' ');
            }
        }
        out.push_str(&self.describe_commands(registry));
        out
    }

    /// The key patterns as `ACL GETUSER` shows them.
    pub fn keys_text(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        let keys: Vec<String> = self.keys.iter().map(key_pattern_text).collect();
        keys.join(" ")
    }

    pub fn channels_text(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        let channels: Vec<String> = self
            .channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect();
        channels.join(" ")
    }

    /// Redis 7.0's `ACLDescribeSelectorCommandRules`: `+@all` or `-@all`, then the categories
    /// that best cover the allowed commands, one at a time, then single commands to make the
    /// bitmap exact. (Redis emits the single commands in its hash table's order, which varies
    /// per process; usher in command table order.) Only Redis's categories are tried, so a
    /// description reads as Redis would write it; `+@seat` and friends come out as commands.
    pub fn describe_commands(&self, registry: &Registry) -> String {
        let additive = !self.allows_id(self.future_bit() as u32);
        let mut rules = String::from(if additive { "-@all " } else { "+@all " });
        let fill = if additive { 0 } else { u64::MAX };
        let mut fake = Selector {
            allowed: vec![fill; self.allowed.len()],
            first_args: Vec::new(),
            keys: Vec::new(),
            channels: Vec::new(),
            ..*self
        };
        let mut temp = fake.clone();
        temp.allowed.clone_from(&self.allowed);
        let mut applied = [false; categories::REDIS_COUNT];
        loop {
            let mut best = None;
            let (mut min_diff, mut max_same) = (u64::MAX, 0);
            for (j, done) in applied.iter().enumerate() {
                if *done {
                    continue;
                }
                let (on, off) = temp.count_category(registry, 1 << j);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                    best = Some(j);
                    min_diff = diff;
                    max_same = same;
                }
            }
            let Some(j) = best else { break };
            fake.set_category(registry, 1 << j, additive);
            temp.set_category(registry, 1 << j, !additive);
            rules.push_str(if additive { "+@" } else { "-@" });
            rules.push_str(categories::NAMES[j]);
            rules.push(' ');
            applied[j] = true;
        }
        for cmd in registry.top_level() {
            for id in std::iter::once(cmd.id).chain(cmd.children.iter().copied()) {
                let user_bit = self.allows_id(id);
                if user_bit != fake.allows_id(id) {
                    rules.push(if user_bit { '+' } else { '-' });
                    rules.push_str(&registry.get(id).full_name);
                    rules.push(' ');
                    fake.change_perm(registry, id, user_bit);
                }
                if let Some((_, args)) = self.first_args.iter().find(|(i, _)| *i == id) {
                    for arg in args {
                        rules.push_str(&format!(
                            "+{}|{} ",
                            registry.get(id).full_name,
                            String::from_utf8_lossy(arg)
                        ));
                    }
                }
            }
        }
        rules.pop();
        rules
    }

    fn count_category(&self, registry: &Registry, bit: u32) -> (u64, u64) {
        let (mut on, mut off) = (0, 0);
        for cmd in registry.all() {
            if cmd.categories & bit != 0 {
                if self.allows_id(cmd.id) {
                    on += 1;
                } else {
                    off += 1;
                }
            }
        }
        (on, off)
    }
}

fn key_pattern_text(k: &KeyPattern) -> String {
    let prefix = match k.access {
        READ => "%R~",
        WRITE => "%W~",
        _ => "~",
    };
    format!("{prefix}{}", String::from_utf8_lossy(&k.pattern))
}

/// Words in a selector's command bitmap: one bit per command, plus the "future" bit.
fn words(registry: &Registry) -> usize {
    registry.command_count() / 64 + 1
}

/// Redis's `ACLStringHasSpaces`: no whitespace or NUL in names and patterns.
pub fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|&c| c == 0 || c.is_ascii_whitespace() || c == 0x0b)
}

/// SHA-256 of a password as lowercase hex, as Redis stores it.
pub fn hash_password(password: &[u8]) -> String {
    let digest = Sha256::digest(password);
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push(char::from_digit((b >> 4) as u32, 16).expect("nibble"));
        hex.push(char::from_digit((b & 15) as u32, 16).expect("nibble"));
    }
    hex
}

fn valid_hash(hash: &[u8]) -> bool {
    hash.len() == 64 && hash.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// `skip-sanitize-payload` / `sanitize-payload`: which one the user carries, if either.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sanitize {
    Unset,
    Skip,
    On,
}

#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    pub sanitize: Sanitize,
    /// SHA-256 hex of each password.
    pub passwords: Vec<String>,
    /// The root selector first, then those added with `(...)`.
    pub selectors: Vec<Selector>,
}

impl User {
    /// A new user: off, no passwords, no commands, no keys (Redis's `ACLCreateUser`).
    pub fn new(name: &str, ctx: &Ctx<'_>) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            sanitize: Sanitize::Unset,
            passwords: Vec::new(),
            selectors: vec![Selector::new(ctx)],
        }
    }

    /// The `default` user as Redis creates it: `on nopass ~* &* +@all`.
    pub fn new_default(ctx: &Ctx<'_>) -> User {
        let mut user = User::new("default", ctx);
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            user.apply(ctx, op.as_bytes())
                .expect("default rules are valid");
        }
        user
    }

    /// Applies one rule (Redis's `ACLSetUser`).
    pub fn apply(&mut self, ctx: &Ctx<'_>, op: &[u8]) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if is("on") {
            self.enabled = true;
        } else if is("off") {
            self.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.sanitize = Sanitize::Skip;
        } else if is("sanitize-payload") {
            self.sanitize = Sanitize::On;
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = if op[0] == b'>' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = if op[0] == b'<' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            let at = self
                .passwords
                .iter()
                .position(|p| *p == hash)
                .ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(at);
        } else if op[0] == b'(' && op.ends_with(b")") && op.len() >= 2 {
            let mut selector = Selector::new(ctx);
            for rule in split_words(&op[1..op.len() - 1]) {
                selector.apply(ctx, &rule)?;
            }
            self.selectors.push(selector);
        } else if is("clearselectors") {
            self.selectors.truncate(1);
        } else if is("reset") {
            for rule in ["resetpass", "resetkeys", "resetchannels"] {
                self.apply(ctx, rule.as_bytes())?;
            }
            if ctx.all_channels_default {
                self.apply(ctx, b"allchannels")?;
            }
            for rule in ["off", "sanitize-payload", "clearselectors", "-@all"] {
                self.apply(ctx, rule.as_bytes())?;
            }
        } else {
            self.selectors[0].apply(ctx, op)?;
        }
        Ok(())
    }

    /// True when `password` is one of the user's (or the user needs none). Compares hashes
    /// in constant time per candidate, as Redis's `time_independent_strcmp`.
    pub fn password_ok(&self, password: &[u8]) -> bool {
        if self.nopass {
            return true;
        }
        let hashed = hash_password(password);
        self.passwords.iter().any(|p| {
            p.len() == hashed.len()
                && p.bytes()
                    .zip(hashed.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        })
    }

    /// True when one flag check can wave every command through (the dispatch gate's fast
    /// path): one selector that allows all commands, keys and channels.
    pub fn unrestricted(&self) -> bool {
        self.selectors.len() == 1 && self.selectors[0].unrestricted()
    }

    /// The flags in Redis's order (`on`/`off`, `nopass`, sanitize).
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut flags = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            flags.push("nopass");
        }
        match self.sanitize {
            Sanitize::Skip => flags.push("skip-sanitize-payload"),
            Sanitize::On => flags.push("sanitize-payload"),
            Sanitize::Unset => {}
        }
        flags
    }

    /// The user's rules as `ACL LIST` and the ACL file show them (Redis's `ACLDescribeUser`).
    pub fn describe(&self, registry: &Registry) -> String {
        let mut out = String::new();
        for flag in self.flag_names() {
            out.push_str(flag);
            out.push(' ');
        }
        for p in &self.passwords {
            out.push('#');
            out.push_str(p);
            out.push(' ');
        }
        for (i, selector) in self.selectors.iter().enumerate() {
            if i == 0 {
                out.push_str(&selector.describe(registry));
            } else {
                out.push_str(&format!(" ({})", selector.describe(registry)));
            }
        }
        out
    }
}

/// Splits a selector's inside on spaces (Redis's `sdssplitargs`, without quotes: patterns may
/// not contain spaces anyway).
fn split_words(s: &[u8]) -> Vec<Vec<u8>> {
    s.split(|c| c.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// Joins rules spread over several arguments back into selectors: `(~a` `+get)` becomes
/// `(~a +get)` (Redis's `ACLMergeSelectorArguments`). `Err(i)`: the argument at `i` opens a
/// selector that never closes.
pub fn merge_selector_args(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, usize> {
    let mut out = Vec::new();
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (j, &op) in args.iter().enumerate() {
        if let Some((_, selector)) = open.as_mut() {
            selector.push(b' ');
            selector.extend_from_slice(op);
            if op.last() == Some(&b')') {
                out.push(open.take().expect("open").1);
            }
            continue;
        }
        if op.first() == Some(&b'(') && op.last() != Some(&b')') {
            open = Some((j, op.to_vec()));
            continue;
        }
        out.push(op.to_vec());
    }
    match open {
        Some((j, _)) => Err(j),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_as_redis_stores_them() {
        // `ACL SETUSER bob >pw` then `ACL GETUSER bob` on redis-server 7.0.15.
        assert_eq!(
            hash_password(b"pw"),
            "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"
        );
    }

    #[test]
    fn selectors_spread_over_arguments_are_merged() {
        let args: [&[u8]; 4] = [b"on", b"(~a", b"+get)", b"(%R~b +set)"];
        let merged = merge_selector_args(&args).unwrap();
        assert_eq!(
            merged,
            vec![
                b"on".to_vec(),
                b"(~a +get)".to_vec(),
                b"(%R~b +set)".to_vec()
            ]
        );
        let open: [&[u8]; 2] = [b"on", b"(~a"];
        assert_eq!(merge_selector_args(&open), Err(1));
    }
}
