use std::future::Future;

#[tokentrace::workflow]
fn sync_fn(a: u32) -> u32 {
    a
}

#[tokentrace::workflow]
async fn async_fn(a: &str) -> Result<String, std::io::Error> {
    if a.is_empty() {
        return Err(std::io::Error::other("empty"));
    }
    Ok(a.to_owned())
}

#[tokentrace::workflow]
fn no_return() {}

struct S(u8);

impl S {
    #[tokentrace::workflow]
    fn method(&self) -> u8 {
        self.0
    }

    #[tokentrace::workflow]
    fn method_mut(&mut self, by: u8) {
        self.0 += by;
    }

    #[tokentrace::workflow]
    async fn method_async(&self) -> &u8 {
        &self.0
    }

    #[tokentrace::workflow]
    fn by_value(self) -> u8 {
        self.0
    }
}

#[tokentrace::workflow]
fn generic<T: Clone + std::fmt::Debug, U>(t: &T, _u: U) -> T
where
    U: Send,
{
    t.clone()
}

#[tokentrace::workflow]
fn stream() -> impl futures_core::Stream<Item = u8> + Unpin {
    Empty
}

struct Empty;

impl futures_core::Stream for Empty {
    type Item = u8;
    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<u8>> {
        std::task::Poll::Ready(None)
    }
}

#[tokentrace::workflow]
fn returns_impl_future() -> impl Future<Output = u8> {
    async { 1 }
}

#[tokentrace::workflow]
fn early_return(a: u8) -> Option<u8> {
    if a == 0 {
        return None;
    }
    Some(a)
}

#[tokentrace::workflow(
    name = "everything",
    kind = "retriever",
    capture_args,
    capture_result,
    skip(secret),
    agent_name = "Ada",
    agent_role = "planner",
    task = "plan"
)]
fn all_options(query: &str, secret: &str) -> Result<Vec<String>, String> {
    let _ = secret;
    Ok(vec![query.to_owned()])
}

#[tokentrace::workflow]
fn r#type() -> u8 {
    0
}

fn main() {
    let _ = sync_fn(1);
    let _ = async_fn("a");
    no_return();
    let mut s = S(1);
    s.method_mut(1);
    let _ = s.method();
    let _ = s.method_async();
    let _ = s.by_value();
    let _ = generic(&1u8, ());
    let _ = stream();
    let _ = returns_impl_future();
    let _ = early_return(1);
    let _ = all_options("q", "s");
    let _ = r#type();
}
