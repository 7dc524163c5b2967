//! `usher`: a Redis-compatible in-memory server built for the worst minute of a ticket sale.
//!
//! This crate is the server: configuration and flags, the thread-per-core runtime, connections,
//! the dispatch gate, authentication, pub/sub, server commands, INFO and logging. It holds no
//! data-type logic; that lives in `usher-engine`. The `usher` binary (`main.rs`) only installs
//! the allocator and calls [`run_cli`]; the library exists so that the fuzz targets (`fuzz/`)
//! can reach the config parser, the dispatch gate and the loaders in-process through
//! [`harness`], the one other public item.
//!
//! Start-up: parse `usher [config-file] [--directive value ...]`, bind, install the lazy-free
//! thread, build the command registry (engine families + server families), then run the
//! acceptor on this thread and the worker threads (by default one per core but one) until
//! SIGTERM, SIGINT or SHUTDOWN.

mod acl;
mod blocked;
mod client;
mod client_eviction;
mod cluster;
mod cmd;
mod command_docs;
mod config;
mod connection;
mod dispatch;
pub mod harness;
mod ids;
mod info;
mod keyspecs;
mod latency;
mod latency_monitor;
mod lazyfree;
mod log;
mod memory;
mod metrics;
mod monitor;
mod notify;
mod pause;
mod persistence;
mod propagate;
mod pubsub;
mod registry;
mod replication;
mod repr;
mod runtime;
mod script_workers;
mod session;
mod shared;
mod signal;
mod slowlog;
mod stats;
mod tls;
mod tracking;
mod waiters;
mod warm;

use config::Invocation;
use std::net::{SocketAddr, TcpListener};

const USAGE: &str = "Usage: usher [/path/to/usher.conf] [options]
       usher -v or --version
       usher -h or --help

Options are redis.conf directives with two dashes, e.g.:
       usher --port 6380 --threads 4
       usher /etc/usher/usher.conf --loglevel verbose --requirepass secret";

/// The `usher` command line: parses flags and the config file, then serves until shut down.
pub fn run_cli() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match config::from_args(&args) {
        Ok(Invocation::Run(config)) => *config,
        Ok(Invocation::Version) => {
            println!(
                "usher v={} (Redis {} compatible)",
                env!("CARGO_PKG_VERSION"),
                cmd::connection::REDIS_VERSION
            );
            return;
        }
        Ok(Invocation::Help) => {
            println!("{USAGE}");
            return;
        }
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(1);
        }
    };
    log::set_level(config.loglevel);
    if let Err(e) = log::set_file(&config.logfile) {
        eprintln!("Can't open the log file: {e}");
        std::process::exit(1);
    }
    if let Err(e) = serve(config) {
        warning!("Fatal: {e}");
        std::process::exit(1);
    }
}

fn serve(mut config: config::Config) -> std::io::Result<()> {
    notice!("oO0OoO0OoO0Oo usher is starting oO0OoO0OoO0Oo");
    notice!(
        "usher version={}, Redis {} compatible, bits=64, pid={}, threads={}, shards={}",
        env!("CARGO_PKG_VERSION"),
        cmd::connection::REDIS_VERSION,
        std::process::id(),
        config.worker_threads(),
        config.shard_count()
    );
    if config.config_file.is_none() {
        notice!("No config file specified, using the default config. In order to specify a config file use usher /path/to/usher.conf");
    }
    if config.engine.token_secret.is_empty() {
        // Tokens signed with a per-process secret cannot be verified by anyone else or after a
        // restart: fine for trying usher out, not for production.
        config.engine.token_secret = ids::random_hex(64).into_bytes();
        notice!(
            "token-secret is not set: admission tokens are signed with a random per-process secret"
        );
    }
    install_token_key(&config)?;
    let listeners = bind_all(&config, config.port)?;
    // The TLS port listens beside the plain one (Redis's `tls-port`).
    let tls_listeners = if config.tls_port != 0 {
        bind_all(&config, config.tls_port)?
    } else {
        Vec::new()
    };
    let port = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map_or(config.port, |a| a.port());
    if !config.pidfile.is_empty() {
        std::fs::write(&config.pidfile, format!("{}\n", std::process::id()))?;
    }
    let cluster = cluster::ClusterState::start(&config, port)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    usher_persist::migrate::set_cluster_mode(cluster.is_some());
    lazyfree::start();
    let mut engine_families = usher_engine::cmd::families();
    engine_families.push(usher_persist::commands::COMMANDS);
    engine_families.push(usher_persist::migrate::COMMANDS);
    let registry = registry::init(&engine_families, &cmd::families());
    let acl = acl::Acl::new(registry, &config);
    let shared: &'static shared::Shared = Box::leak(Box::new(shared::Shared::new(
        config,
        registry.command_count(),
        acl,
    )));
    acl::load_at_startup(shared)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let tls_config = shared.config.read().clone();
    shared
        .tls
        .reload(&tls_config)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    if let Some(c) = cluster {
        let t = c.topology();
        notice!(
            "Cluster mode: node {} ({} of {} nodes, {} of 16384 slots here)",
            t.me().id,
            t.myself + 1,
            t.nodes.len(),
            t.me()
                .slots
                .iter()
                .map(|(a, b)| (b - a) as usize + 1)
                .sum::<usize>()
        );
        let _ = shared.cluster.set(c);
        if let Some(cluster) = shared.cluster.get() {
            usher_engine::queue::split::set_local_slot_check(Box::new(move |slot| {
                cluster.topology().owns(slot)
            }));
        }
    }
    shared
        .tcp_port
        .store(port, std::sync::atomic::Ordering::Relaxed);
    usher_persist::set_compression(shared.config.read().rdbcompression);
    usher_engine::lfu::configure(&shared.config.read().engine.lfu);
    // The dataset loads in a thread of its own while the server already answers: commands
    // without the `loading` flag get -LOADING until it is done (Redis's behaviour).
    persistence::aof::start(shared);
    persistence::start_loading(shared);
    persistence::start_cron(shared);
    replication::start(shared);
    for l in &listeners {
        if let Ok(addr) = l.local_addr() {
            notice!("usher listening on {addr}");
        }
    }
    for l in &tls_listeners {
        if let Ok(addr) = l.local_addr() {
            notice!("usher listening on {addr} (TLS)");
        }
    }
    let listeners: Vec<(TcpListener, bool)> = listeners
        .into_iter()
        .map(|l| (l, false))
        .chain(tls_listeners.into_iter().map(|l| (l, true)))
        .collect();
    let (metrics_port, binds) = {
        let c = shared.config.read();
        (c.metrics_port, c.bind.clone())
    };
    if metrics_port > 0 {
        metrics::http::start(shared, &binds, metrics_port)?;
    }
    let pidfile = shared.config.read().pidfile.clone();
    runtime::run(shared, listeners)?;
    // A signal (not SHUTDOWN) ended the run: save like Redis's SIGTERM handling does.
    if !shared
        .shutdown
        .save_settled
        .load(std::sync::atomic::Ordering::Acquire)
        && persistence::has_save_points(shared)
    {
        notice!("Saving the final RDB snapshot before exiting.");
        let _ = persistence::save(shared);
    }
    if shared.stream.on() {
        persistence::aof::drain(shared);
    }
    if !pidfile.is_empty() {
        let _ = std::fs::remove_file(pidfile);
    }
    Ok(())
}

/// Binds every `bind` address (a leading `-` marks an optional one, as in redis.conf).
fn bind_all(config: &config::Config, port: u16) -> std::io::Result<Vec<TcpListener>> {
    let mut listeners = Vec::new();
    let mut port = port;
    for addr in &config.bind {
        let (optional, host) = match addr.strip_prefix('-') {
            Some(h) => (true, h),
            None => (false, addr.as_str()),
        };
        let host = if host == "*" { "0.0.0.0" } else { host };
        let ip: std::net::IpAddr = match host.parse() {
            Ok(ip) => ip,
            Err(_) if optional => continue,
            Err(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("Invalid bind address '{host}'"),
                ))
            }
        };
        match listen(SocketAddr::new(ip, port), config.tcp_backlog) {
            Ok(l) => {
                // With --port 0 every address shares the port the first one was given.
                port = l.local_addr()?.port();
                listeners.push(l);
            }
            Err(e) if optional => verbose!("Skipping optional bind address {host}: {e}"),
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("Could not create server TCP listening socket {host}:{port}: {e}"),
                ));
            }
        }
    }
    if listeners.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            "no bind address could be used",
        ));
    }
    Ok(listeners)
}

fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog as i32)?;
    Ok(socket.into())
}

/// Installs the EdDSA key ring start-up begins with: the key of `token-signing-key`, or one
/// generated for this process (a ring persisted in `usher:tokenkeys` replaces it once the
/// data is loaded, see `persistence::adopt_token_keys`).
fn install_token_key(config: &config::Config) -> std::io::Result<()> {
    use usher_engine::queue::keyring::{self, KeyRing, SigningKey};
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let now = shared::unix_ms();
    let key = if config.token_signing_key.is_empty() {
        // Like the random token-secret: EdDSA tokens then verify only against this process's
        // JWK set until TOKENKEYS ROTATE persists a ring.
        notice!("token-signing-key is not set: EdDSA tokens are signed with a key generated for this process until TOKENKEYS ROTATE");
        SigningKey::generate(now)
    } else {
        let path = &config.token_signing_key;
        let bytes = std::fs::read(path)
            .map_err(|e| invalid(format!("Can't read token-signing-key {path}: {e}")))?;
        keyring::pkcs8_from_file(&bytes)
            .and_then(|der| SigningKey::from_pkcs8(&der, now))
            .map_err(|e| invalid(format!("token-signing-key {path}: {e}")))?
    };
    keyring::install(KeyRing::with_key(key));
    Ok(())
}
