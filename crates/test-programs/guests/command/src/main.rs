//! A test guest of another world: an ordinary command-line program built for
//! wasm32-wasip2, the most likely thing to be uploaded by mistake.

fn main() {
    println!("hello from a command");
}
