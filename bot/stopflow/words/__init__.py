"""Every sentence and Block Kit view stoplive shows, split by who reads it: the requester
(:mod:`.to_requester`; help and refusals: :mod:`.refusals`), the channel (:mod:`.to_channel`), finding rooms (:mod:`.live_lists`),
history and the Home tab (:mod:`.home`), short notes on refused clicks (:mod:`.notices`); the
pieces they share (:mod:`.common`), the action IDs (:mod:`.actions`) and the mrkdwn that keeps
foreign text inert (:mod:`.markup`). The workflow decides; these modules phrase."""
