// The plane as a Streamlit component (st.components.v2): Streamlit calls the default export on every
// rerun with the data from app_pages/plane/__init__.py; what the user does goes back as state values.
// The explorer itself is vae/web/plane.js, bundled before this file (vae.web.bundle).

import { LatentPlane } from "vae/web/plane.js";

const PLANES = new WeakMap();

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let plane = PLANES.get(parentElement);
  if (!plane) { plane = new LatentPlane(parentElement); PLANES.set(parentElement, plane); }
  plane.update(data, setStateValue);
  return () => { plane.destroy(); PLANES.delete(parentElement); };
}
