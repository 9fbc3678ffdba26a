//! `dispatch`: Juju runs it for every hook and action of the kv charm.
fn main() {
    if let Err(e) = kv_charm::main() {
        eprintln!("kv: {e}"); // (a setup error or a hook tool's: Juju retries the hook)
        std::process::exit(1);
    }
}
