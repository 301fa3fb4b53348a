-- Headless Neovim drives gradguard's language server like a user:
-- open a file, wait for the GG101 error, apply the preferred quick fix through
-- vim.lsp.buf.code_action (vim.ui.select stubbed to pick it), write, see the error go.
-- Inputs come from the environment; the verdict is written to GG_RESULT.
local file = os.getenv("GG_FILE")
local cmd = vim.json.decode(os.getenv("GG_SERVER_CMD"))
local result_path = os.getenv("GG_RESULT")
local timeout = tonumber(os.getenv("GG_TIMEOUT_MS") or "60000")

local function finish(verdict, code)
  local out = assert(io.open(result_path, "w"))
  out:write(verdict)
  out:close()
  vim.cmd(code == 0 and "qall!" or "cquit " .. code)
end

local function gg101(buf)
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    if d.code == "GG101" then
      return d
    end
  end
  return nil
end

local ok, err = pcall(function()
  vim.cmd("edit " .. vim.fn.fnameescape(file))
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].filetype = "python"
  local client_id = vim.lsp.start({
    name = "gradguard",
    cmd = cmd,
    root_dir = vim.fs.dirname(file),
  }, { bufnr = buf })
  if not client_id then
    return finish("FAIL: the server did not start", 1)
  end

  if not vim.wait(timeout, function() return gg101(buf) ~= nil end, 20) then
    return finish("FAIL: no GG101 diagnostic", 1)
  end
  local diag = gg101(buf)
  if diag.severity ~= vim.diagnostic.severity.ERROR then
    return finish("FAIL: GG101 is not an error", 1)
  end

  local offered = {}
  vim.ui.select = function(items, _, on_choice)
    for i, item in ipairs(items) do
      local action = item.action or item
      table.insert(offered, action.title)
      if action.isPreferred then
        return on_choice(item, i)
      end
    end
    on_choice(nil, nil)
  end
  vim.api.nvim_win_set_cursor(0, { diag.lnum + 1, diag.col })
  local before = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
  vim.lsp.buf.code_action({ context = { only = { "quickfix" } } })
  local changed = vim.wait(timeout, function()
    return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n") ~= before
  end, 20)
  if not changed then
    return finish("FAIL: the quick fix changed nothing; offered: " .. table.concat(offered, " | "), 1)
  end
  vim.cmd("write")
  if not vim.wait(timeout, function() return gg101(buf) == nil end, 20) then
    return finish("FAIL: GG101 still reported after the fix", 1)
  end
  finish("OK " .. table.concat(offered, " | "), 0)
end)
if not ok then
  finish("FAIL: " .. tostring(err), 1)
end
