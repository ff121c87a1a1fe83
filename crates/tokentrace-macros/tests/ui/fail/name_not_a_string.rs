#[tokentrace::workflow(name = answer)]
fn f() {}

fn main() {
    f();
}
