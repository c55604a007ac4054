-- Argo CD health check for voice.twilio-operator.io ClientConfiguration and
-- AccountDefault. Both kinds report the same status shape, so this one script
-- serves both: under both keys of argocd-cm, and as
-- resource_customizations/voice.twilio-operator.io/<Kind>/health.lua in the
-- layout of Argo CD's own repository. Its source is config/argocd/health.lua
-- in github.com/twilio-operator/voice-operator; after editing it there, run
--   go test ./test/argocd/ -update
-- to copy it into argocd-cm-patch.yaml and resource_customizations/; the
-- tests fail while any copy differs.
--
-- The operator writes status.observedGeneration and the conditions Ready (the
-- summary), Reconciling and Stalled (kstatus's abnormal-true conditions,
-- present only while True), each with its own observedGeneration. A condition
-- written for an older generation says nothing about the current spec, so it
-- is not believed.
--
-- Argo CD runs argocd-cm scripts without Lua's string and math libraries:
-- only base functions (ipairs, type, tostring) are used here.

hs = {}

local pausedAnnotation = "voice.twilio-operator.io/paused"

local metadata = obj.metadata or {}
local generation = metadata.generation
local annotations = metadata.annotations or {}

-- Paused wins over everything: the controller makes no calls for a paused
-- object, so its status is as old as the pause, which is what was asked for.
if annotations[pausedAnnotation] == "true" then
  hs.status = "Suspended"
  hs.message = "Reconciliation is paused by the annotation " .. pausedAnnotation
  return hs
end

local status = obj.status
if type(status) ~= "table" then
  status = {}
end
local observed = status.observedGeneration

-- condition returns the condition of the given type, or nil.
local function condition(conditionType)
  if type(status.conditions) ~= "table" then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if type(c) == "table" and c.type == conditionType then
      return c
    end
  end
  return nil
end

-- current reports whether c speaks of metadata.generation: by its own
-- observedGeneration when it has one, else by status.observedGeneration
-- (absent both, nothing says it is stale).
local function current(c)
  if c.observedGeneration ~= nil then
    return c.observedGeneration == generation
  end
  return observed == nil or observed == generation
end

-- isTrue reports whether c is present, True and current.
local function isTrue(c)
  return c ~= nil and c.status == "True" and current(c)
end

-- text returns v when it is a non-empty string, else nil.
local function text(v)
  if type(v) == "string" and v ~= "" then
    return v
  end
  return nil
end

-- explain gives "Reason: message" for c, or whichever of the two it has.
local function explain(c, fallback)
  local reason, message = text(c.reason), text(c.message)
  if reason ~= nil and message ~= nil then
    return reason .. ": " .. message
  end
  return message or reason or fallback
end

local ready = condition("Ready")
local reconciling = condition("Reconciling")
local stalled = condition("Stalled")

-- Stalled: the controller has stopped retrying until a person changes the
-- spec, the Secret or an annotation. A Stalled left from an older generation
-- is not believed: the change that fixes it may be the one not yet observed.
if isTrue(stalled) then
  hs.status = "Degraded"
  hs.message = explain(stalled, "Stalled")
  return hs
end

-- Healthy needs the whole generation handled (status.observedGeneration) and
-- a Ready=True that speaks of it; a Reconciling=True vetoes it, as in kstatus.
if observed ~= nil and observed == generation and isTrue(ready) and not isTrue(reconciling) then
  hs.status = "Healthy"
  hs.message = text(ready.message) or "Ready"
  -- Under managementPolicy ObserveOnly drift is reported, not corrected:
  -- still Healthy, but worth showing.
  local inSync = condition("InSync")
  if inSync ~= nil and inSync.status == "False" and current(inSync) then
    hs.message = hs.message .. "; " .. explain(inSync, "InSync is False")
  end
  return hs
end

hs.status = "Progressing"
if isTrue(reconciling) then
  hs.message = explain(reconciling, "Reconciling")
elseif ready ~= nil and ready.status ~= "True" and current(ready) then
  hs.message = explain(ready, "Not ready")
else
  hs.message = "Waiting for the controller to observe generation " .. tostring(generation)
end
return hs
