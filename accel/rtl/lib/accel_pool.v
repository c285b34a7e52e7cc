// Separable streaming max-pool (K x K, stride S, K <= 2*S): pixels in raster order in (C codes a
// beat), pooled pixels out (C codes a beat, m_last on the image's last one). Instead of a line
// buffer of whole input rows (accel_swu + accel_maxpool) it keeps only partial maxima, each in
// two slots (the window's parity: with K <= 2*S windows ox and ox+2 never share a position):
// - the horizontal running max of the (at most two) column windows holding the current pixel:
//   2 x C codes;
// - the vertical partial max of each window of the (at most two) output rows in progress:
//   2 x OW x C codes.
// Both are simple dual-port RAMs of PE codes a word (deep and narrow: block RAM by bits).
// A pixel is C/PE steps of PE codes (chunk j = codes j*PE .. j*PE+PE-1). A step updates the
// horizontal max of each column window holding the pixel (its first in-image column starts it);
// on a window's last in-image column the row's max hm goes down: each row window holding the
// row read-modify-writes its (ox, j) word (its first in-image row starts it; a row shared by
// two windows (K > S) starts the next one's), and the window's last in-image row emits the
// pooled chunk instead (through a FIFO of OBUF pixels into the output register: see "output").
// Positions outside the image never win (they are never seen), as in accel.core.kinds.maxpool.
// K - S <= 1 (SqueezeNet's 3x3/2, 2x2/2): a position held by two windows starts the later one,
// so a step compares in at most one window per axis and writes at most one: one memory per axis
// holds both slots (slot in the address), one comparator a channel per axis. K - S >= 2: a
// memory and a comparator per slot.
// Edges: with right/bottom padding a last window may hold only the image's last column (row),
// which then also ends the window before it. That window is finished at a virtual column W
// (row H) without data (ODD_C / ODD_R): at most one output per step, in raster order.
// Timing: two stages, issue (counters, flags, RAM reads) and execute (compares, RAM writes,
// output FIFO); a step a cycle, C/PE cycles per input pixel (and per virtual position), outputs
// interleaved with the input. The pixel is taken with its first chunk (HOLD = 1: the other
// chunks wait in a holding register, so the sender is free after one cycle; HOLD = 0: the
// chunks are read off s_data, which the sender holds, and the pixel is taken with its last).
// Steps that touch the same RAM word are at least two apart, except when a memory has one word
// a slot (C/PE = 1, or one output column): then it is registers read where they are used.
`default_nettype none
module accel_pool #(
    parameter C      = 8,
    parameter BITS   = 8,
    parameter SIGNED = 0,
    parameter H      = 5,
    parameter W      = 5,
    parameter K      = 3,
    parameter S      = 2,
    parameter PT     = 0,    // top / left padding (bottom / right follow from OH / OW)
    parameter PL     = 0,
    parameter OH     = 2,
    parameter OW     = 2,
    parameter PE     = C,    // channels compared per cycle (divides C)
    parameter HOLD   = 1,
    // output pixels buffered (PE-code words): what one window row's burst leaves over while the
    // next layer, at the pool's average rate, takes it (fold.pool_obuf)
    parameter OBUF   = (OW * (S - 1) + S - 1) / S + 1
) (
    input  wire              clk,
    input  wire              rst_n,
    input  wire [C*BITS-1:0] s_data,
    input  wire              s_last,   // unused: the image size is a parameter
    input  wire              s_valid,
    output wire              s_ready,
    output reg  [C*BITS-1:0] m_data,
    output reg               m_last,
    output reg               m_valid,
    input  wire              m_ready
);
    localparam CB  = C * BITS;
    localparam PB  = PE * BITS;
    localparam CF  = C / PE;
    localparam CFW = (CF > 1) ? $clog2(CF) : 1;
    // the last real column / row: its phase and window; ODD: it ends two windows (see above)
    localparam CPL = (W - 1 + PL) % S, CQL = (W - 1 + PL) / S;
    localparam RPL = (H - 1 + PT) % S, RQL = (H - 1 + PT) / S;
    localparam ODD_C = (CPL < K && CQL <= OW - 1 && CQL >= 1 && CPL + S < K && CQL <= OW) ? 1 : 0;
    localparam ODD_R = (RPL < K && RQL <= OH - 1 && RQL >= 1 && RPL + S < K && RQL <= OH) ? 1 : 0;
    localparam WE = W + ODD_C, HE = H + ODD_R;  // positions per row, rows per image
    localparam XW = (WE > 1) ? $clog2(WE) : 1;
    localparam YW = (HE > 1) ? $clog2(HE) : 1;
    localparam PW = (S > 1) ? $clog2(S) : 1;
    localparam QXW = $clog2(CQL + OW + 2);
    localparam QYW = $clog2(RQL + OH + 2);
    localparam VD  = OW * CF;                       // words of a row slot
    localparam VAW = (VD > 1) ? $clog2(VD) : 1;
    localparam AW  = $clog2((OW + 1) * CF + 1);    // the ending column window's word
    localparam [QXW-1:0] QX0 = PL / S;
    localparam [PW-1:0]  PX0 = PL % S;
    localparam [QYW-1:0] QY0 = PT / S;
    localparam [PW-1:0]  PY0 = PT % S;

    // ---- issue: the position (r, c), its chunk j and where its windows are --------------------
    reg [XW-1:0]  c;
    reg [YW-1:0]  r;
    reg [PW-1:0]  pc, pr;       // (c + PL) mod S, (r + PT) mod S
    reg [QXW-1:0] qc;           // (c + PL) div S: window A = qc (offset pc), B = qc-1 (pc + S)
    reg [QYW-1:0] qr;
    reg [CFW-1:0] j;
    // the word ox*CF + j of the next column window to end (windows end in order, so this is
    // the one ending wherever one ends: no window arithmetic)
    reg [AW-1:0]  ae;
    wire jl    = (CF == 1) || (j == CF - 1);
    wire c_end = (c == WE - 1);
    wire r_end = (r == HE - 1);
    // columns: window A / B holds c, starts there (first in-image column), ends there (last)
    wire cv  = (ODD_C != 0) && (c == W);            // the virtual column
    wire ce  = (c == W - 1);
    // (the range tests fold to constants where every column is inside: S <= K, no column
    // after the last window)
    wire cvA = cv || ((S <= K || pc < K) && (CQL <= OW - 1 || qc <= OW - 1));
    wire cvB = !cv && (qc != 0) && (pc + S < K) && (CQL <= OW || qc <= OW);
    wire cfA = !cv && ((c == 0) || (pc == 0));
    wire cfB = (c == 0);
    wire clA = cv || (pc == K - 1) || (ce && ODD_C == 0);
    wire clB = !cv && ((pc + S == K - 1) || ce);
    wire rv  = (ODD_R != 0) && (r == H);            // the virtual row
    wire re_ = (r == H - 1);
    wire rvA = rv || ((S <= K || pr < K) && (RQL <= OH - 1 || qr <= OH - 1));
    wire rvB = !rv && (qr != 0) && (pr + S < K) && (RQL <= OH || qr <= OH);
    wire rfA = !rv && ((r == 0) || (pr == 0));
    wire rfB = (r == 0);
    wire rlA = rv || (pr == K - 1) || (re_ && ODD_R == 0);
    wire rlB = !rv && ((pr + S == K - 1) || re_);
    wire hA = cvA && clA, hB = cvB && clB;
    wire hend = hA || hB;                           // a column window ends: hm goes down
    wire oA = rvA && rlA, oB = rvB && rlB;          // a row window ends: it is emitted
    wire virt = cv || rv;                           // no input pixel at this position

    // ---- execute stage registers (common) ----
    reg          v1;            // a step to execute
    reg [PB-1:0] x1;            // its chunk
    reg          pad1, rpad1;   // no data (virtual position) / virtual row (hm never counts)
    reg          o1;            // emits a chunk
    reg          ol1, jl1;      // the image's last output pixel; the pixel's last chunk
    wire ofull;                 // the output FIFO has no room
    wire exec  = v1 && !(o1 && ofull);
    wire adv   = !v1 || exec;
    wire [PB-1:0] x0;           // the chunk issued
    wire avail;
    generate
        if (HOLD != 0) begin : g_hold
            // taken with chunk 0 (s_data), the rest from the holding register
            assign avail   = virt || (j != 0) || s_valid;
            assign s_ready = !virt && (j == 0) && adv;
            if (CF > 1) begin : g_reg
                reg [CB-1:PB] hold;
                always @(posedge clk) if (s_valid && s_ready) hold <= s_data[CB-1:PB];
                accel_mux #(.N(CF), .W(PB)) u_sel (.in({hold, s_data[PB-1:0]}), .sel(j),
                                                   .out(x0));
            end else begin : g_one
                assign x0 = s_data;
            end
        end else begin : g_nohold
            // the sender holds the pixel: read chunk j off s_data, taken with the last chunk
            assign avail   = virt || s_valid;
            assign s_ready = !virt && jl && adv;
            if (CF > 1) begin : g_mux
                accel_mux #(.N(CF), .W(PB)) u_sel (.in(s_data), .sel(j), .out(x0));
            end else begin : g_one
                assign x0 = s_data;
            end
        end
    endgenerate
    wire issue = avail && adv;
    wire [PB-1:0] vout;         // the emitted chunk

    always @(posedge clk) begin
        if (issue) begin
            x1 <= x0; jl1 <= jl; pad1 <= virt; rpad1 <= rv;
            o1  <= hend && (oA || oB);
            ol1 <= ((hA && qc == OW - 1) || (hB && qc == OW)) &&
                   ((oA && qr == OH - 1) || (oB && qr == OH));
        end
    end

    // ---- the memories and the compares ----
    // Per axis two slots (window parity): horizontal maxima CF words a slot, vertical partials
    // VD words a slot (word ox*CF + j, read and written where a column window ends: ae).
    wire [VAW-1:0] colw = ae[VAW-1:0];
    genvar e, i;
    generate
        if (K - S <= 1) begin : g_one
            // Each step at most one window per axis compares (a position held by two windows
            // starts the later one: K - S <= 1), and at most one is written (the ending one is
            // not: its max is done). So one memory per axis holds both slots (slot*CF + j,
            // slot*VD + word): one read, one write, one comparator a channel, no slot mux.
            localparam HD = 2 * CF, VD2 = 2 * VD;
            localparam HAW = $clog2(HD), VAW2 = $clog2(VD2);
            // the window that compares (valid, not starting here) and the one written (valid,
            // not ending here) per axis, and whether the written / ending one starts here
            wire hcs = (cvA && !cfA) ? qc[0] : !qc[0];
            wire hwA = cvA && !clA, hwB = cvB && !clB;
            wire hws = hwA ? qc[0] : !qc[0];
            wire vcs = (rvA && !rfA) ? qr[0] : !qr[0];
            wire vwA = rvA && !rlA, vwB = rvB && !rlB;
            wire vws = vwA ? qr[0] : !qr[0];
            reg hwe1, hwf1, hef1, vwe1, vwf1, vof1, hcs1, hws1, vcs1, vws1;
            reg [HAW-1:0] hwa1;
            reg [VAW2-1:0] vwa1;
            wire [HAW-1:0] hra = {j, hcs};              // the slot: the address' low bit
            wire [VAW2-1:0] vra = {colw, vcs};
            always @(posedge clk)
                if (issue) begin
                    hwe1 <= hwA || hwB;
                    hwf1 <= hwA ? cfA : cfB;
                    hef1 <= hA ? cfA : cfB;
                    vwe1 <= hend && (vwA || vwB);
                    vwf1 <= vwA ? rfA : rfB;
                    vof1 <= oA ? rfA : rfB;
                    hcs1 <= hcs; hws1 <= hws; vcs1 <= vcs; vws1 <= vws;
                    hwa1 <= {j, hws};
                    vwa1 <= {colw, vws};
                end
            wire [PB-1:0] hd, vd, hwd, vwd, hm;
            if (CF > 1) begin : g_hram
                reg [PB-1:0] mem [0:HD-1];
                reg [PB-1:0] q;
                always @(posedge clk) begin
                    if (exec && hwe1) mem[hwa1] <= hwd;
                    if (issue) q <= mem[hra];
                end
                assign hd = q;
            end else begin : g_hreg     // one word a slot: registers, read where used
                reg [PB-1:0] q0, q1;
                always @(posedge clk)
                    if (exec && hwe1) begin
                        if (hws1) q1 <= hwd;
                        else q0 <= hwd;
                    end
                assign hd = hcs1 ? q1 : q0;
            end
            if (VD > 1) begin : g_vram
                reg [PB-1:0] mem [0:VD2-1];
                reg [PB-1:0] q;
                always @(posedge clk) begin
                    if (exec && vwe1) mem[vwa1] <= vwd;
                    if (issue) q <= mem[vra];
                end
                assign vd = q;
            end else begin : g_vreg
                reg [PB-1:0] q0, q1;
                always @(posedge clk)
                    if (exec && vwe1) begin
                        if (vws1) q1 <= vwd;
                        else q0 <= vwd;
                    end
                assign vd = vcs1 ? q1 : q0;
            end
            for (i = 0; i < PE; i = i + 1) begin : g_ch
                wire [BITS-1:0] h = hd[i*BITS +: BITS];
                wire [BITS-1:0] x = x1[i*BITS +: BITS];
                wire [BITS-1:0] v = vd[i*BITS +: BITS];
                wire h_wins = SIGNED ? ($signed(h) >= $signed(x)) : (h >= x);
                // the running max (kept over a position without data)
                wire [BITS-1:0] hc = (pad1 || h_wins) ? h : x;
                assign hwd[i*BITS +: BITS] = hwf1 ? x : hc;
                assign hm[i*BITS +: BITS]  = hef1 ? x : hc;
                wire [BITS-1:0] m = hm[i*BITS +: BITS];
                wire v_wins = SIGNED ? ($signed(v) >= $signed(m)) : (v >= m);
                wire [BITS-1:0] vc = (rpad1 || v_wins) ? v : m;
                assign vwd[i*BITS +: BITS]  = vwf1 ? m : vc;
                assign vout[i*BITS +: BITS] = vof1 ? m : vc;
            end
        end else begin : g_two
            // K - S >= 2: a position may be compared in both windows of an axis: a memory and a
            // comparator per slot. Slot e's window is A when qc (qr) has parity e, else B.
            reg [1:0] hw1, hf1, vw1, vf1;   // per slot: holds the position / starts there
            reg hsel1, osel1;               // the slot whose column / row window ends
            reg [CFW-1:0] j1;
            reg [VAW-1:0] a1;
            always @(posedge clk)
                if (issue) begin
                    j1 <= j; a1 <= colw;
                    hw1   <= qc[0] ? {cvA, cvB} : {cvB, cvA};
                    hf1   <= qc[0] ? {cvA && cfA, cvB && cfB} : {cvB && cfB, cvA && cfA};
                    hsel1 <= hA ? qc[0] : !qc[0];
                    vw1   <= {2{hend}} & (qr[0] ? {rvA && !rlA, rvB && !rlB}
                                                : {rvB && !rlB, rvA && !rlA});
                    vf1   <= qr[0] ? {rvA && rfA, rvB && rfB} : {rvB && rfB, rvA && rfA};
                    osel1 <= oA ? qr[0] : !qr[0];
                end
            wire [2*PB-1:0] hd, vd, hn, vn;  // slot e at e*PB
            wire [PB-1:0] hm = hsel1 ? hn[PB +: PB] : hn[0 +: PB];
            for (e = 0; e < 2; e = e + 1) begin : g_slot
                if (CF > 1) begin : g_hram
                    reg [PB-1:0] mem [0:CF-1];
                    reg [PB-1:0] q;
                    always @(posedge clk) begin
                        if (exec && hw1[e]) mem[j1] <= hn[e*PB +: PB];
                        if (issue) q <= mem[j];
                    end
                    assign hd[e*PB +: PB] = q;
                end else begin : g_hreg
                    reg [PB-1:0] q;
                    always @(posedge clk) if (exec && hw1[e]) q <= hn[e*PB +: PB];
                    assign hd[e*PB +: PB] = q;
                end
                if (VD > 1) begin : g_vram
                    reg [PB-1:0] mem [0:VD-1];
                    reg [PB-1:0] q;
                    always @(posedge clk) begin
                        if (exec && vw1[e]) mem[a1] <= vn[e*PB +: PB];
                        if (issue) q <= mem[colw];
                    end
                    assign vd[e*PB +: PB] = q;
                end else begin : g_vreg
                    reg [PB-1:0] q;
                    always @(posedge clk) if (exec && vw1[e]) q <= vn[e*PB +: PB];
                    assign vd[e*PB +: PB] = q;
                end
                for (i = 0; i < PE; i = i + 1) begin : g_ch
                    wire [BITS-1:0] h = hd[(e*PE + i)*BITS +: BITS];
                    wire [BITS-1:0] x = x1[i*BITS +: BITS];
                    wire [BITS-1:0] v = vd[(e*PE + i)*BITS +: BITS];
                    wire [BITS-1:0] m = hm[i*BITS +: BITS];
                    wire h_wins = SIGNED ? ($signed(h) >= $signed(x)) : (h >= x);
                    wire v_wins = SIGNED ? ($signed(v) >= $signed(m)) : (v >= m);
                    assign hn[(e*PE + i)*BITS +: BITS] = hf1[e] ? x : ((pad1 || h_wins) ? h : x);
                    assign vn[(e*PE + i)*BITS +: BITS] = vf1[e] ? m : ((rpad1 || v_wins) ? v : m);
                end
            end
            assign vout = osel1 ? vn[PB +: PB] : vn[0 +: PB];
        end
        if (K > 2 * S || C % PE != 0) begin : g_bad
            accel_pool_needs_K_at_most_2S_and_PE_dividing_C u_bad ();  // elaboration error
        end
    endgenerate

    // ---- output ----
    // A window row's pixels complete in a burst (during one input row of S), one per S input
    // pixels; the next layer takes them at its own, even rate. The chunks wait in a FIFO of
    // OBUF pixels (PE-code words: block RAM by bits), so the burst does not stall this block's
    // input (and the layer before it): at the pool's average rate the next layer takes OW/S of
    // a row's OW pixels during the row, and the rest during the S - 1 rows after. Chunk j of a pixel
    // enters the output register at the top and moves down: after C/PE chunks chunk 0 is at the
    // bottom (a shift: wiring, no multiplexer).
    localparam OD  = OBUF * CF;
    localparam OAW = (OD > 1) ? $clog2(OD) : 1;
    reg [OAW-1:0] wp, rp;
    reg [$clog2(OD + 1)-1:0] cnt;
    reg [PB:0] omem [0:OD-1];
    reg [PB:0] oq;              // the word read (its top bit: the image's last chunk)
    reg        oqv;
    reg [CFW-1:0] gc;           // chunks of the pixel in the output register
    wire push = exec && o1;
    wire take = oqv && (!m_valid || m_ready);          // oq into the output register
    wire pop  = (cnt != 0) && (!oqv || take);
    wire gl   = (CF == 1) || (gc == CF - 1);
    assign ofull = (cnt == OD);
    always @(posedge clk) begin
        if (push) omem[wp] <= {ol1 && jl1, vout};
        if (pop) oq <= omem[rp];
        if (take && gl) m_last <= oq[PB];
    end
    generate
        if (CF > 1) begin : g_gather
            always @(posedge clk) if (take) m_data <= {oq[PB-1:0], m_data[CB-1:PB]};
        end else begin : g_whole
            always @(posedge clk) if (take) m_data <= oq[PB-1:0];
        end
    endgenerate
    always @(posedge clk or negedge rst_n)
        if (!rst_n) begin
            wp <= 0; rp <= 0; cnt <= 0; oqv <= 1'b0; gc <= 0; m_valid <= 1'b0;
        end else begin
            if (push) wp <= (wp == OD - 1) ? 0 : wp + 1'b1;
            if (pop) rp <= (rp == OD - 1) ? 0 : rp + 1'b1;
            cnt <= cnt + push - pop;
            if (pop) oqv <= 1'b1;
            else if (take) oqv <= 1'b0;
            if (take) gc <= gl ? 0 : gc + 1'b1;
            if (take && gl) m_valid <= 1'b1;
            else if (m_ready) m_valid <= 1'b0;
        end

    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            c <= 0; r <= 0; pc <= PX0; pr <= PY0; qc <= QX0; qr <= QY0; j <= 0; ae <= 0;
            v1 <= 1'b0;
        end else begin
            if (adv) v1 <= issue;
            if (issue) begin
                if (!jl) begin
                    j <= j + 1'b1; ae <= ae + 1'b1;
                end else begin
                    j <= 0;
                    if (c_end) begin                       // next row (or image)
                        c <= 0; pc <= PX0; qc <= QX0; ae <= 0;
                        if (r_end) begin
                            r <= 0; pr <= PY0; qr <= QY0;
                        end else begin
                            r <= r + 1'b1;
                            if (!(ODD_R != 0 && re_)) begin  // the virtual row keeps pr, qr
                                if (pr == S - 1) begin pr <= 0; qr <= qr + 1'b1; end
                                else pr <= pr + 1'b1;
                            end
                        end
                    end else begin
                        c <= c + 1'b1;
                        // the next window's word after one ends here, else this one's again
                        if (hend) ae <= ae + 1'b1;
                        else ae <= ae - (CF - 1);
                        if (ODD_C != 0 && ce) ;             // the virtual column keeps pc, qc
                        else if (pc == S - 1) begin
                            pc <= 0; qc <= qc + 1'b1;
                        end else pc <= pc + 1'b1;
                    end
                end
            end
        end
    end
endmodule
`default_nettype wire
