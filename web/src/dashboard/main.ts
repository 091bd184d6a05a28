/** The dashboard page at /dashboard/. `?poll=MS` shortens the fallback poll (tests), `?token=` is kept for the API. */
import '../styles/app.css';
import { mountQueueUi } from '../mount.js';

const params = new URLSearchParams(location.search);
const poll = Number.parseInt(params.get('poll') ?? '', 10);
// The app's root paints the whole page in its theme's background.
document.body.style.margin = '0';
mountQueueUi(document.getElementById('app')!, {
  token: params.get('token'),
  pollMs: Number.isFinite(poll) && poll > 0 ? poll : undefined,
});
