-- Argo CD health check for dirac.vobox.io/VOBoxIntervention.
--
-- Install it in argocd-cm under the key
--   resource.customizations.health.dirac.vobox.io_VOBoxIntervention
-- with `kubectl apply --server-side --field-manager=vobox-operator -k
-- config/argocd` (see docs/gitops.md).
--
-- It reads the kstatus conditions the operator writes, never status.phase:
--   Progressing  the operator has not acted on the latest spec yet
--                (status.observedGeneration < metadata.generation), or works
--   Degraded     Stalled=True: a host failed, the SSH Secret or a host key
--                is wrong; a person must look
--   Healthy      Ready=True: every host is in spec.state, every check passed
--   Suspended    spec.suspend holds the procedure before it finished

local function progressing(msg)
  return { status = "Progressing", message = msg }
end

if obj.status == nil then
  return progressing("Waiting for the operator to see the intervention")
end

local generation = 0
if obj.metadata ~= nil and obj.metadata.generation ~= nil then
  generation = obj.metadata.generation
end
local observed = obj.status.observedGeneration
if observed == nil or observed < generation then
  -- A new spec (e.g. state flipped from Down to Up): the conditions still
  -- describe the previous one and must not count.
  return progressing(string.format("Waiting for the operator to act on generation %d", generation))
end

-- The conditions written for this generation, by type.
local conditions = {}
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type ~= nil and (c.observedGeneration == nil or c.observedGeneration >= generation) then
      conditions[c.type] = c
    end
  end
end

local function describe(c)
  local reason = c.reason or ""
  local message = c.message or ""
  if reason ~= "" and message ~= "" then
    return reason .. ": " .. message
  end
  return reason .. message
end

local stalled = conditions["Stalled"]
if stalled ~= nil and stalled.status == "True" then
  return { status = "Degraded", message = describe(stalled) }
end

local ready = conditions["Ready"]
if ready ~= nil and ready.status == "True" then
  return { status = "Healthy", message = describe(ready) }
end

if obj.spec ~= nil and obj.spec.suspend == true then
  return { status = "Suspended", message = "spec.suspend is true: no new step starts" }
end

if ready ~= nil then
  return progressing(describe(ready))
end
return progressing("Waiting for the operator")
