// The WebSocket upstream of bench/ws: an echo server (the `ws` package), one process.
//   node bench/ws-upstream.mjs PORT
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2] || 29081);
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
wss.on('listening', () => console.log(`ws upstream on ${port}`));
