"""How the page looks and the little browser-side scripts it runs: the CSS given to `launch()`, the page's own
style for margins Gradio keeps outside the app, closing the sidebar on a narrow screen and scrolling the brush into
view. Plain strings, no logic.
"""

CSS = """
#chat { flex-grow: 1; }
#header h2 { margin-bottom: 0; }
#header p { margin-top: 4px; }
#input-row { align-items: stretch; }
#stop { max-width: 110px; }
#sessions .wrap { flex-direction: column; }
#sessions label { white-space: normal; }
.gw-progress { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 12px; }
.gw-progress progress { width: 180px; height: 10px; accent-color: var(--color-accent); }
.gw-progress .gw-percent { color: var(--body-text-color-subdued); font-size: 0.9em; }
.gw-cap summary { cursor: pointer; }
.gw-cap ul { padding-left: 1.1em; font-size: 0.9em; overflow-wrap: anywhere; }
#capabilities code { white-space: normal; overflow-wrap: anywhere; }
#brush-panel { border: 2px solid var(--color-accent); border-radius: 8px; }
/* While the brush is open the chat makes room, so the image to paint on is where the person looks. */
.gradio-container:has(#brush-panel) #chat { height: 30vh !important; min-height: 200px !important; }
@media (max-width: 767px) {
  #chat .options { display: flex !important; flex-wrap: wrap; gap: 6px; justify-content: flex-end; }
  #chat .options .option { width: auto; padding: 6px 10px; font-size: 0.85em; }
  #header { padding-left: 34px; }
  #header p { display: none; }
  #header h2 { font-size: 1.15em; }
  #chat { height: calc(100dvh - 230px) !important; min-height: 320px; }
  #stop { max-width: 80px; min-width: 64px !important; }
  .gw-progress progress { width: 120px; }
  footer { flex-wrap: wrap; }
}
"""

# Close the sidebar on a narrow screen (it covers the chat there): at load and after a pick.
_CLOSE_SIDEBAR_IF_NARROW = ("if (window.innerWidth < 768) { const s = document.querySelector('#sidebar');"
                            " if (s && s.classList.contains('open')) s.querySelector('.toggle-button')?.click(); }")
# Gradio scopes the `css` of launch() inside the app's content; the page margins around it need a plain style.
_PAGE_STYLE = "@media (max-width: 767px) { .gradio-container .main.fillable.app { padding: 4px 6px !important; } }"
# A file input keeps the name of the last file picked, and picking the same file again fires no change: empty it
# once the upload has read it, so the same photo can be attached again after a send or after removing it.
_FORGET_PICKED_FILE = ("document.addEventListener('change', (e) => { const t = e.target;"
                       " if (t && t.matches && t.matches('#msg input[type=file]')) setTimeout(() => { t.value = ''; }, 0);"
                       " }, true);")
PAGE_JS = ("() => { const s = document.createElement('style'); s.textContent = " + repr(_PAGE_STYLE) + ";"
           " document.head.appendChild(s); " + _FORGET_PICKED_FILE + " " + _CLOSE_SIDEBAR_IF_NARROW + " }")
CLOSE_SIDEBAR_PASS_JS = "(...args) => { " + _CLOSE_SIDEBAR_IF_NARROW + " return args; }"  # several inputs
CLOSE_SIDEBAR_PASS_ONE_JS = "(value) => { " + _CLOSE_SIDEBAR_IF_NARROW + " return value; }"  # one input
# Bring the brush into view once it has been drawn (after the update that opened it).
SHOW_BRUSH_JS = ("() => { setTimeout(() => document.querySelector('#brush-panel')"
                 "?.scrollIntoView({block: 'end', behavior: 'instant'}), 200); }")
