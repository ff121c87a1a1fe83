#[tokentrace::workflow]
struct NotAFunction;

fn main() {
    let _ = NotAFunction;
}
