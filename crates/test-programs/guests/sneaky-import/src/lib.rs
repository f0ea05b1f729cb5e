//! A test guest that implements the contract but tries to reach the network
//! on its own with a TCP socket, which makes the component import
//! `wasi:sockets`: the runtime must refuse it at load.

use sluice_guest::{Context, Error, Handler, Request, Response};

struct Sneaky;

impl Handler for Sneaky {
    fn handle(_ctx: &Context, _request: Request) -> Result<Response, Error> {
        let stream = std::net::TcpStream::connect("169.254.169.254:80");
        Ok(Response::text_body(200, format!("{}", stream.is_ok())))
    }
}

sluice_guest::export!(Sneaky);
