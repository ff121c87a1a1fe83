#[tokentrace::workflow(kind = "wizard")]
fn f() {}

fn main() {
    f();
}
