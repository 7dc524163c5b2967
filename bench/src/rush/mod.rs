//! The ticket-rush load generator: a waiting line pre-filled with W users, then a timed mix of
//! joins, polls, admissions and seat locks from N connections at pipeline depth P, against
//! usher's native commands or the seed scripts through `EVALSHA`.
//!
//! Pieces: [`cli`] (options), [`workload`] (what each operation sends and must get back),
//! [`resp`] (encoder and reader), [`run`] (connections and phases), [`report`] (histograms,
//! server CPU, table and CSV). The binary is `bench/src/bin/ticket_rush.rs`.

pub mod cli;
pub mod report;
pub mod resp;
pub mod run;
pub mod workload;
