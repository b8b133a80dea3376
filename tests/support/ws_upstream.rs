//! issue 11: a real WebSocket upstream (tokio-tungstenite, an implementation independent
//! of the BFF's), on its own thread. It records each handshake's headers and everything it
//! receives, picks `chat.v2` when offered, greets, echoes, and obeys text commands:
//! `close:CODE:REASON` (closes), `big:N` (sends an N-byte binary message), `ping` (sends a
//! ping), `bad` (writes a frame with a reserved opcode, raw), `frag` (a text message in
//! three fragments).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// What one connection saw.
#[derive(Default, Clone, Debug)]
pub struct WsSeen {
    /// Handshake request headers, lower-case names (repeated ones joined with ", ").
    pub headers: BTreeMap<String, String>,
    pub path: String,
    /// Data messages received (text as is, binary as `<N bytes>`).
    pub messages: Vec<String>,
    /// Pong payloads received.
    pub pongs: Vec<Vec<u8>>,
    /// The Close received: code and reason.
    pub close: Option<(u16, String)>,
    /// The connection has ended.
    pub ended: bool,
}

pub struct WsUpstream {
    /// `http://127.0.0.1:PORT` (routes take an http URL; the BFF speaks ws to it).
    pub base: String,
    pub conns: Arc<Mutex<Vec<WsSeen>>>,
    pub dpop: Arc<Mutex<WsDpop>>,
}

/// issue 12: the upstream as a DPoP resource server on its handshakes: with `nonce` set
/// (or `nonce_loop`), a `DPoP` handshake whose proof lacks the current nonce is refused
/// 401 `use_dpop_nonce` with a new `DPoP-Nonce` (`ws-1`, `ws-2`, ...).
#[derive(Default)]
pub struct WsDpop {
    pub nonce: Option<String>,
    /// Every demand brings a new nonce and none is accepted.
    pub nonce_loop: bool,
    pub demands: usize,
}

impl WsUpstream {
    pub fn start() -> WsUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns: Arc<Mutex<Vec<WsSeen>>> = Arc::default();
        let dpop: Arc<Mutex<WsDpop>> = Arc::default();
        let c = conns.clone();
        let d = dpop.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        return;
                    };
                    tokio::spawn(serve(tcp, c.clone(), d.clone(), port));
                }
            });
        });
        WsUpstream {
            base: format!("http://127.0.0.1:{port}"),
            conns,
            dpop,
        }
    }

    /// The last connection's record.
    pub fn last(&self) -> WsSeen {
        self.conns
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or_default()
    }

    pub fn count(&self) -> usize {
        self.conns.lock().unwrap().len()
    }

    /// Waits (up to 5 s) until the last connection satisfies `f`.
    pub async fn wait_for(&self, f: impl Fn(&WsSeen) -> bool) -> WsSeen {
        for _ in 0..100 {
            let seen = self.last();
            if f(&seen) {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.last()
    }
}

/// A 401 `use_dpop_nonce` refusal when `d` wants a nonce the handshake's proof lacks.
fn nonce_demand(
    seen: &WsSeen,
    d: &mut WsDpop,
    port: u16,
) -> Option<tokio_tungstenite::tungstenite::handshake::server::ErrorResponse> {
    let token = seen.headers.get("authorization")?.strip_prefix("DPoP ")?;
    if d.nonce.is_none() && !d.nonce_loop {
        return None;
    }
    let htu = format!("http://127.0.0.1:{port}{}", seen.path);
    let e = super::dpop::Expect {
        htm: "GET",
        htu: &htu,
        access_token: Some(token),
        nonce: d.nonce.as_deref(),
    };
    let proof = seen.headers.get("dpop").map(String::as_str).unwrap_or("");
    if super::dpop::verify(proof, &e).is_ok() && !d.nonce_loop {
        return None;
    }
    d.demands += 1;
    let fresh = format!("ws-{}", d.demands);
    d.nonce = Some(fresh.clone());
    let mut res = tokio_tungstenite::tungstenite::http::Response::new(Some(
        r#"{"error":"use_dpop_nonce"}"#.to_string(),
    ));
    *res.status_mut() = tokio_tungstenite::tungstenite::http::StatusCode::UNAUTHORIZED;
    let h = res.headers_mut();
    h.insert(
        "www-authenticate",
        r#"DPoP error="use_dpop_nonce", error_description="nonce needed""#
            .parse()
            .unwrap(),
    );
    h.insert("dpop-nonce", fresh.parse().unwrap());
    Some(res)
}

// tungstenite's handshake callback type returns its large error response by value.
#[allow(clippy::result_large_err)]
async fn serve(
    tcp: tokio::net::TcpStream,
    conns: Arc<Mutex<Vec<WsSeen>>>,
    dpop: Arc<Mutex<WsDpop>>,
    port: u16,
) {
    let index = {
        let mut c = conns.lock().unwrap();
        c.push(WsSeen::default());
        c.len() - 1
    };
    let record = |f: &dyn Fn(&mut WsSeen)| f(&mut conns.lock().unwrap()[index]);
    let callback = |req: &Request, mut res: Response| {
        let mut seen = WsSeen {
            path: req.uri().to_string(),
            ..Default::default()
        };
        for (n, v) in req.headers() {
            let v = String::from_utf8_lossy(v.as_bytes()).to_string();
            seen.headers
                .entry(n.as_str().to_string())
                .and_modify(|old| {
                    old.push_str(", ");
                    old.push_str(&v)
                })
                .or_insert(v);
        }
        let offered = seen
            .headers
            .get("sec-websocket-protocol")
            .cloned()
            .unwrap_or_default();
        if offered.split(',').any(|p| p.trim() == "chat.v2") {
            res.headers_mut()
                .insert("sec-websocket-protocol", "chat.v2".parse().unwrap());
        }
        let demand = nonce_demand(&seen, &mut dpop.lock().unwrap(), port);
        conns.lock().unwrap()[index] = seen;
        match demand {
            Some(refusal) => Err(refusal),
            None => Ok(res),
        }
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
        record(&|s| s.ended = true);
        return;
    };
    let who = {
        let c = conns.lock().unwrap();
        c[index]
            .headers
            .get("authorization")
            .cloned()
            .unwrap_or_else(|| "nobody".into())
    };
    let _ = ws.send(Message::text(format!("hello {who}"))).await;
    while let Some(msg) = ws.next().await {
        let msg = match msg {
            Ok(m) => m,
            Err(_) => break,
        };
        match msg {
            Message::Text(t) => {
                let t = t.to_string();
                record(&|s| s.messages.push(t.clone()));
                if let Some(rest) = t.strip_prefix("close:") {
                    let (code, reason) = rest.split_once(':').unwrap_or((rest, ""));
                    let _ = ws
                        .close(Some(CloseFrame {
                            code: code.parse::<u16>().unwrap_or(1000).into(),
                            reason: reason.to_string().into(),
                        }))
                        .await;
                } else if let Some(n) = t.strip_prefix("big:") {
                    let n: usize = n.parse().unwrap_or(0);
                    let _ = ws.send(Message::binary(vec![7u8; n])).await;
                } else if t == "ping" {
                    let _ = ws
                        .send(Message::Ping(b"from-upstream".to_vec().into()))
                        .await;
                } else if t == "bad" {
                    // A frame with reserved opcode 3, written raw under the library.
                    let _ = ws.get_mut().write_all(&[0x83, 0x00]).await;
                    let _ = ws.get_mut().flush().await;
                } else if t == "frag" {
                    for (i, part) in ["fr", "ag", "ment"].iter().enumerate() {
                        let opcode = if i == 0 {
                            OpCode::Data(Data::Text)
                        } else {
                            OpCode::Data(Data::Continue)
                        };
                        let header = FrameHeader {
                            is_final: i == 2,
                            opcode,
                            ..FrameHeader::default()
                        };
                        let _ = ws
                            .send(Message::Frame(Frame::from_payload(
                                header,
                                part.as_bytes().to_vec().into(),
                            )))
                            .await;
                    }
                } else {
                    let _ = ws.send(Message::text(format!("echo {t}"))).await;
                }
            }
            Message::Binary(b) => {
                let n = b.len();
                record(&|s| s.messages.push(format!("<{n} bytes>")));
                let _ = ws.send(Message::Binary(b)).await;
            }
            Message::Pong(p) => {
                let p = p.to_vec();
                record(&|s| s.pongs.push(p.clone()));
            }
            Message::Ping(_) => {} // answered by the library
            Message::Close(frame) => {
                let c = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                record(&|s| s.close = c.clone().or(Some((1005, String::new()))));
            }
            Message::Frame(_) => {}
        }
    }
    record(&|s| s.ended = true);
}
